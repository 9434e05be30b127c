import type { H3Event } from 'h3'
import type { Config } from '../lib/config'
import type { ExportJob } from '../lib/exports/jobs/record'
import { mintPartLinks } from '../lib/exports/dto'
import { exportZip, isMultiPart, zipFilename } from '../lib/exports/zip'
import { contentDisposition, type Storage } from '../lib/storage/s3'

/** `?part=N` of a download: absent, a part's 1-based index, or invalid (or the export is one file). */
export function requestedPart(part: unknown, job: ExportJob): number | null | 'invalid' {
  if (part === undefined) return null
  const index = typeof part === 'string' && /^\d{1,6}$/.test(part) ? Number(part) : Number.NaN
  return index >= 1 && index <= (job.metadata.parts?.length ?? 0) ? index : 'invalid'
}

/**
 * A completed multi-part export's download (the API's and the signed link's): one part's fresh
 * presigned URL for `?part=N`, else the ZIP of every part and the manifest, streamed. The client
 * going away aborts the S3 reads.
 */
export async function sendPartedDownload(event: H3Event, storage: Storage, config: Pick<Config, 'EXPORT_URL_TTL_SECONDS'>, job: ExportJob, part: number | null) {
  if (!isMultiPart(job)) throw new Error('not a multi-part export')
  setHeader(event, 'cache-control', 'no-store')
  if (part !== null) {
    const links = await mintPartLinks(storage, job, config.EXPORT_URL_TTL_SECONDS)
    return sendRedirect(event, links!.parts[part - 1]!, 302)
  }
  const disconnected = new AbortController()
  event.node.res.once('close', () => {
    if (!event.node.res.writableFinished) disconnected.abort()
  })
  setHeaders(event, { 'content-type': 'application/zip', 'content-disposition': contentDisposition(zipFilename(job)) })
  return sendStream(event, exportZip(storage, job, disconnected.signal))
}
