/** Only same-site paths: a crafted ?redirect= must not send a fresh sign-in to another origin. */
export function safeRedirect(target: unknown, fallback = '/analytics/datasets'): string {
  // No whitespace: URL parsing drops tabs and newlines anywhere, so '/\t/evil.com' is '//evil.com'.
  return typeof target === 'string' && target.startsWith('/') && !target.startsWith('//') && !target.startsWith('/\\') && !/\s/.test(target)
    ? target
    : fallback
}
