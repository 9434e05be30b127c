/**
 * Links into the app, built on APP_URL in one place: APP_URL may carry a path (a deployment under
 * /outport/), which `new URL(path, base)` keeps only when the base ends with a slash.
 */

export function appLink(appUrl: string, path: string, params: Record<string, string> = {}): string {
  const url = new URL(path, appUrl.endsWith('/') ? appUrl : `${appUrl}/`)
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value)
  return url.toString()
}

/** The datasets page with this job's export dialog open: it shows the failure and a Retry button. */
export function retryUrl(appUrl: string, datasetId: string, jobId: string): string {
  return appLink(appUrl, 'analytics/datasets', { export: datasetId, job: jobId })
}

export function schedulesUrl(appUrl: string): string {
  return appLink(appUrl, 'analytics/schedules')
}

export function settingsUrl(appUrl: string): string {
  return appLink(appUrl, 'settings/notifications')
}

/** The Activity page: the audit trail, where a change the user did not make shows who made it. */
export function activityUrl(appUrl: string): string {
  return appLink(appUrl, 'activity')
}
