import type { ExportJobDTO } from '#shared/types/exports'

const EVENTS_URL = '/api/analytics/exports/events'
const REOPEN_MIN_MS = 5000
const REOPEN_MAX_MS = 60_000

/**
 * Live export status from GET /api/analytics/exports/events: `jobId()` names the export to follow,
 * undefined follows all the user's exports, null none. `live` is true while the stream is open: callers poll only while it is false — before
 * it opens, when it cannot be opened (a 503, a proxy that buffers it) and after it drops. The
 * browser's EventSource reconnects by itself after a drop, sending the last event's id, so the
 * server replays what was missed; when it gives up (an HTTP error), the stream is opened anew with
 * a growing delay. Events carry no download URL: read the job once it is final. Browser only.
 */
export function useExportEvents(jobId: () => string | null | undefined, onJob: (job: ExportJobDTO) => void) {
  const live = ref(false)
  let source: EventSource | undefined
  let reopenTimer: ReturnType<typeof setTimeout> | undefined
  let failures = 0

  function close() {
    clearTimeout(reopenTimer)
    source?.close()
    source = undefined
    live.value = false
  }

  function open(id: string | null | undefined) {
    close()
    if (id === null || typeof EventSource === 'undefined') return
    const es = new EventSource(id ? `${EVENTS_URL}?job_id=${encodeURIComponent(id)}` : EVENTS_URL)
    source = es
    es.addEventListener('open', () => {
      failures = 0
      live.value = true
    })
    es.addEventListener('export', (message: MessageEvent<string>) => onJob(JSON.parse(message.data) as ExportJobDTO))
    es.addEventListener('error', () => {
      live.value = false
      if (es.readyState !== EventSource.CLOSED) return
      // The browser gave up (an HTTP error or a response that is not a stream): try again later.
      failures++
      reopenTimer = setTimeout(() => open(jobId()), Math.min(REOPEN_MAX_MS, REOPEN_MIN_MS * 2 ** (failures - 1)))
    })
  }

  onMounted(() => watch(jobId, open, { immediate: true }))
  onScopeDispose(close)
  return { live }
}
