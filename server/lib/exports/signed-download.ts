import type { AppContext } from '../context'
import { isUuid } from '#shared/utils/uuid'
import { objectExists } from '../storage/s3'
import { downloadTokenKey, verifyDownloadToken } from './download-token'
import { mintDownloadLink } from './dto'
import { findExport } from './jobs/history'
import type { ExportJob } from './jobs/record'
import { isMultiPart } from './zip'

export type SignedDownload
  = | { redirect: string, userId: string, jobId: string }
    /** A multi-part export: the route sends its ZIP, or one part (`?part=N`). */
    | { parts: ExportJob, userId: string, jobId: string }
    | { status: number, title: string, text: string }

/**
 * What a signed download link (sent to Telegram, opened with no session) leads to: a fresh presigned
 * URL when the token is valid and the file still exists, otherwise a page saying why. The signed
 * token is the only credential.
 */
export async function resolveSignedDownload(ctx: Pick<AppContext, 'db' | 'storage' | 'config'>, jobId: string, token: unknown): Promise<SignedDownload> {
  const { db, storage, config } = ctx
  const key = config.NUXT_SESSION_PASSWORD ? downloadTokenKey(config.NUXT_SESSION_PASSWORD) : null
  const check = key && isUuid(jobId) ? verifyDownloadToken(key, jobId, token) : { ok: false, reason: 'invalid' } as const
  if (!check.ok && check.reason === 'invalid') {
    return { status: 403, title: 'This download link is not valid', text: 'The link may be incomplete. Open the export in Outport to download it.' }
  }
  const deleted = { status: 410, title: 'This export was deleted', text: 'Its owner deleted the file. Start a new export in Outport.' }
  const gone = { status: 410, title: 'This export is no longer available', text: `Export files are kept for ${config.EXPORT_RETENTION_HOURS} hours. Start a new export in Outport.` }
  if (!check.ok) return gone

  const job = await findExport(db, jobId)
  const s3Key = job?.metadata.s3_key
  if (job?.status === 'deleted') return deleted
  if (!job || job.status !== 'completed' || !s3Key) return gone
  let exists: boolean
  try {
    exists = await objectExists(storage, s3Key)
  } catch {
    return { status: 503, title: 'The download is unavailable right now', text: 'The file storage could not be reached. Please try again in a few minutes.' }
  }
  if (!exists) return gone
  if (isMultiPart(job)) return { parts: job, userId: job.userId, jobId: job.id }
  const link = await mintDownloadLink(storage, job, config.EXPORT_URL_TTL_SECONDS)
  return link ? { redirect: link.url, userId: job.userId, jobId: job.id } : gone
}
