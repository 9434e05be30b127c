/**
 * Where the app's Download buttons point: the download route, which redirects to a fresh presigned
 * URL and is where a download is audited (a `download_url` from a status read is not).
 */
export function exportDownloadPath(jobId: string): string {
  return `/api/analytics/exports/${jobId}/download`
}
