/** Only same-site paths: a crafted ?redirect= must not send a fresh sign-in to another origin. */
export function safeRedirect(target: unknown, fallback = '/analytics/datasets'): string {
  return typeof target === 'string' && target.startsWith('/') && !target.startsWith('//') && !target.startsWith('/\\')
    ? target
    : fallback
}
