import { setTimeout as sleep } from 'node:timers/promises'

export interface ServerEvent { id: string | null, event: string, data: string }

export interface EventStreamClient {
  status: number
  contentType: string | null
  /** Every event received so far, in order. */
  events: ServerEvent[]
  /** Comment lines received so far (heartbeats), without the colon. */
  comments: string[]
  /** Settles when the server ends the stream. */
  ended: Promise<void>
  isEnded: () => boolean
  /** The first event (at or after index `from`) that satisfies `match`, waiting up to `timeoutMs`. */
  next: (match: (e: ServerEvent) => boolean, opts?: { from?: number, timeoutMs?: number }) => Promise<ServerEvent>
  /** The client leaves. */
  close: () => void
  /** The body of a response that was not a stream. */
  text: string
}

/** Opens an SSE stream with fetch and parses it as EventSource would (id, event, data, comments). */
export async function openEventStream(url: string, init: { token?: string, cookie?: string, lastEventId?: string } = {}): Promise<EventStreamClient> {
  const headers: Record<string, string> = { accept: 'text/event-stream' }
  if (init.token) headers.authorization = `Bearer ${init.token}`
  if (init.cookie) headers.cookie = init.cookie
  if (init.lastEventId !== undefined) headers['last-event-id'] = init.lastEventId
  const controller = new AbortController()
  const res = await fetch(url, { headers, signal: controller.signal })
  const contentType = res.headers.get('content-type')
  const events: ServerEvent[] = []
  const comments: string[] = []
  let ended = false
  if (!contentType?.startsWith('text/event-stream')) {
    const text = await res.text()
    return { status: res.status, contentType, events, comments, ended: Promise.resolve(), isEnded: () => true, next: () => Promise.reject(new Error(`not a stream: ${res.status} ${text}`)), close: () => {}, text }
  }
  const done = (async () => {
    const decoder = new TextDecoder()
    let buffer = ''
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true })
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          let id: string | null = null
          let event = 'message'
          const data: string[] = []
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim())
            else if (line.startsWith('id: ')) id = line.slice(4)
            else if (line.startsWith('event: ')) event = line.slice(7)
            else if (line.startsWith('data: ')) data.push(line.slice(6))
          }
          if (data.length) events.push({ id, event, data: data.join('\n') })
        }
      }
    } catch {
      // Aborted by close(), or the connection was cut: either way the stream has ended.
    } finally {
      ended = true
    }
  })()
  return {
    status: res.status,
    contentType,
    events,
    comments,
    ended: done,
    isEnded: () => ended,
    async next(match, { from = 0, timeoutMs = 30_000 } = {}) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const found = events.slice(from).find(match)
        if (found) return found
        if (ended) throw new Error(`the stream ended before the event came (${events.length} events)`)
        if (Date.now() > deadline) throw new Error(`no such event within ${timeoutMs} ms (${events.length} events: ${events.map(e => e.data.slice(0, 80)).join(' | ')})`)
        await sleep(20)
      }
    },
    close: () => controller.abort(),
    text: ''
  }
}
