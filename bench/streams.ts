import http from 'node:http'
import type { ExportJobDTO } from '../shared/types/exports'

const EVENTS_PATH = '/api/analytics/exports/events'

/** One open stream: every `export` event's DTO with its arrival time; `opened` once the first bytes came. */
export interface Stream {
  events: Array<{ at: number, job: ExportJobDTO }>
  opened: Promise<void>
  /** The first event (received already or to come) that satisfies `match`. */
  waitFor: (match: (job: ExportJobDTO) => boolean, timeoutMs?: number) => Promise<ExportJobDTO>
  close: () => void
}

export function openStream(baseUrl: string, token: string, query = ''): Stream {
  const events: Stream['events'] = []
  const waiters = new Set<(job: ExportJobDTO) => void>()
  let req: http.ClientRequest
  const opened = new Promise<void>((resolve, reject) => {
    req = http.get(`${baseUrl}${EVENTS_PATH}${query}`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`events: ${res.statusCode}`))
      res.setEncoding('utf8')
      let buffer = ''
      res.on('data', (chunk: string) => {
        resolve()
        buffer += chunk
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = /^data: (.*)$/m.exec(block)?.[1]
          if (!data || !/^event: export$/m.test(block)) continue
          const job = JSON.parse(data) as ExportJobDTO
          events.push({ at: performance.now(), job })
          for (const waiter of waiters) waiter(job)
        }
      })
      res.on('error', () => {})
    })
    req.on('error', reject)
  })
  const waitFor = (match: (job: ExportJobDTO) => boolean, timeoutMs = 900_000) => {
    const seen = events.find(e => match(e.job))
    if (seen) return Promise.resolve(seen.job)
    return new Promise<ExportJobDTO>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(waiter)
        reject(new Error(`no such event within ${timeoutMs} ms`))
      }, timeoutMs)
      const waiter = (job: ExportJobDTO) => {
        if (!match(job)) return
        clearTimeout(timer)
        waiters.delete(waiter)
        resolve(job)
      }
      waiters.add(waiter)
    })
  }
  return { events, opened, waitFor, close: () => req.destroy() }
}
