import { ExportEventsQuerySchema, LastEventIdSchema } from '#shared/types/exports'
import { findUserExport } from '#server/lib/exports/jobs/history'
import type { StreamCredential } from '#server/lib/exports/events'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:read' })
  const query = await getValidatedQuery(event, parseWith(ExportEventsQuerySchema))
  const header = getHeader(event, 'last-event-id')
  const parsed = header === undefined ? null : LastEventIdSchema.safeParse(header.trim())
  if (parsed && !parsed.success) throw new ValidationError([{ field: 'Last-Event-ID', message: parsed.error.issues[0]!.message }])
  const { db } = await useAppContext()
  if (query.job_id && !await findUserExport(db, user.id, query.job_id)) throw createError({ statusCode: 404, message: 'Export not found' })
  const credential: StreamCredential = event.context.apiTokenId
    ? { kind: 'token', id: event.context.apiTokenId as string }
    : { kind: 'session', id: (await getUserSession(event)).secure!.sessionId as string }

  const hub = await useExportEventHub()
  await hub.ready().catch((error: Error) => {
    useRequestLog(event).warn(`export events: cannot listen for changes: ${error.message}`)
    throw createError({ statusCode: 503, message: 'Live status is unavailable right now: poll GET /api/analytics/exports/{id}' })
  })
  const res = event.node.res
  const closed = new Promise<void>(resolve => res.once('close', resolve))
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    // nginx and similar proxies pass each event on at once instead of buffering the response.
    'x-accel-buffering': 'no'
  })
  let close: (() => void) | undefined
  try {
    close = await hub.open({
      userId: user.id,
      jobId: query.job_id ?? null,
      credential,
      after: parsed?.data ?? null,
      sink: {
        write: chunk => !res.writableEnded && res.write(chunk),
        pending: () => res.writableLength,
        end: () => res.end()
      }
    })
  } catch (error) {
    // The status line is gone: end the response, so the client falls back to polling and retries.
    useRequestLog(event).warn(`export events: ${error instanceof Error ? error.message : error}`)
    res.end()
    return
  }
  await closed
  close()
})
