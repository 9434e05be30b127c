import type { H3Event } from 'h3'
import type { ExportMetadata } from '#shared/types/exports'
import { downloadTokenKey, verifyDownloadToken } from '../../../lib/exports/download-token'
import { isUuid, mintDownloadLink } from '../../../lib/exports/service'
import { escapeHtml } from '../../../lib/telegram/messages'
import { objectExists } from '../../../lib/storage/s3'

/**
 * The download link sent to Telegram: opened on a phone, with no session. The signed token is the
 * only credential; a valid one is answered with a 302 to a fresh presigned URL. People land here
 * from a chat, so failures are small HTML pages, not JSON.
 */
export default defineEventHandler(async (event) => {
  const { db, storage, config } = await useAppContext()
  setHeaders(event, { 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', 'x-robots-tag': 'noindex' })
  const jobId = getRouterParam(event, 'id') ?? ''
  const key = config.NUXT_SESSION_PASSWORD ? downloadTokenKey(config.NUXT_SESSION_PASSWORD) : null
  const check = key && isUuid(jobId) ? verifyDownloadToken(key, jobId, getQuery(event).token) : { ok: false, reason: 'invalid' } as const
  if (!check.ok && check.reason === 'invalid') {
    return page(event, 403, 'This download link is not valid', 'The link may be incomplete. Open the export in Outport to download it.', config.APP_URL)
  }
  const gone = () => page(event, 410, 'This export is no longer available', `Export files are kept for ${config.EXPORT_RETENTION_HOURS} hours. Start a new export in Outport.`, config.APP_URL)
  if (!check.ok) return gone()

  const job = await db.job.findFirst({ where: { id: jobId.toLowerCase(), type: 'EXPORT' } })
  const s3Key = (job?.metadata as ExportMetadata | null)?.s3_key
  if (!job || job.status !== 'completed' || !s3Key) return gone()
  let exists: boolean
  try {
    exists = await objectExists(storage, s3Key)
  } catch {
    return page(event, 503, 'The download is unavailable right now', 'The file storage could not be reached. Please try again in a few minutes.', config.APP_URL)
  }
  if (!exists) return gone()
  const link = await mintDownloadLink(storage, job, config.EXPORT_URL_TTL_SECONDS)
  if (!link) return gone()
  return sendRedirect(event, link.url, 302)
})

function page(event: H3Event, status: number, title: string, text: string, appUrl: string): string {
  setResponseStatus(event, status)
  setHeader(event, 'content-type', 'text/html; charset=utf-8')
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)} · Outport</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;line-height:1.5;color:#1f2937}a{color:#2563eb}</style></head>
<body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p><p><a href="${escapeHtml(appUrl)}">Open Outport</a></p></body>
</html>
`
}
