import { resolveSignedDownload } from '#server/lib/exports/signed-download'
import { messagePage } from '#server/lib/html'

/**
 * The download link sent to Telegram: a valid token is answered with a 302 to a fresh presigned
 * URL (a multi-part export: its ZIP, or `?part=N`'s URL). People land here from a chat, so failures are small HTML pages, not JSON.
 */
export default defineEventHandler(async (event) => {
  const context = await useAppContext()
  setHeaders(event, { 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', 'x-robots-tag': 'noindex' })
  const outcome = await resolveSignedDownload(context, getRouterParam(event, 'id') ?? '', getQuery(event).token)
  if ('redirect' in outcome) {
    // No session here: the event is the job owner's (the link was theirs), from whoever opened it.
    await audit(event, 'export.downloaded', { userId: outcome.userId, objectId: outcome.jobId, details: { via: 'link' } })
    return sendRedirect(event, outcome.redirect, 302)
  }
  if ('parts' in outcome) {
    const part = requestedPart(getQuery(event).part, outcome.parts)
    if (part !== 'invalid') {
      await audit(event, 'export.downloaded', { userId: outcome.userId, objectId: outcome.jobId, details: { via: 'link', ...(part !== null && { part }) } })
      return sendPartedDownload(event, context.storage, context.config, outcome.parts, part)
    }
    setResponseStatus(event, 404)
    setHeader(event, 'content-type', 'text/html; charset=utf-8')
    return messagePage('There is no such part', `This export has ${outcome.parts.metadata.parts?.length ?? 0} parts. Open the export in Outport to download it.`, context.config.APP_URL)
  }
  setResponseStatus(event, outcome.status)
  setHeader(event, 'content-type', 'text/html; charset=utf-8')
  return messagePage(outcome.title, outcome.text, context.config.APP_URL)
})
