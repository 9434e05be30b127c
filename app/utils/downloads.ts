import type { ExportJobDTO } from '#shared/types/exports'
import { exportFilename, exportZipFilename } from '#shared/utils/filename'

/**
 * Where the app's Download buttons point: the download route, which redirects to a fresh presigned
 * URL and is where a download is audited (a `download_url` from a status read is not).
 */
export function exportDownloadPath(jobId: string): string {
  return `/api/analytics/exports/${jobId}/download`
}

/**
 * The command line that downloads an export with an API token (the finished dialog and the
 * history's row menu): the same download route, following its redirect to the file.
 */
export function exportCurlLine(job: ExportJobDTO, origin: string): string {
  const filename = job.parts ? exportZipFilename(job) : exportFilename(job)
  return `curl -L -H "Authorization: Bearer $OUTPORT_TOKEN" -o "${filename}" "${origin}${exportDownloadPath(job.job_id)}"`
}
