import http from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'

export interface OpenLoopResult { requests: number, perSecond: number, p50: number, p99: number, errors: number }

/**
 * Pollers that each send a GET on a fixed schedule (together `rate` requests per second, evenly
 * spread), as clients polling a status endpoint do. Unlike a closed loop (autocannon), a slow
 * response does not slow the load down: each request's latency counts from when it was due, so a
 * server stall shows in the percentiles instead of being hidden (coordinated omission). Stops after
 * `seconds`, or sooner when `signal` aborts.
 */
export async function openLoopPolling(url: string, headers: Record<string, string>, opts: { pollers: number, rate: number, seconds: number, signal?: AbortSignal }): Promise<OpenLoopResult> {
  const period = opts.pollers * 1000 / opts.rate
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.pollers })
  const latencies: number[] = []
  let errors = 0
  const start = performance.now() + 100
  const end = start + opts.seconds * 1000
  let stopped = end
  opts.signal?.addEventListener('abort', () => {
    stopped = performance.now()
  }, { once: true })
  await Promise.all(Array.from({ length: opts.pollers }, async (_, i) => {
    for (let due = start + i * period / opts.pollers; due < end && !opts.signal?.aborted; due += period) {
      const wait = due - performance.now()
      if (wait > 0) await sleep(wait)
      if (await get(url, headers, agent) !== 200) errors++
      latencies.push(performance.now() - due)
    }
  }))
  agent.destroy()
  const seconds = (Math.min(end, stopped) - start) / 1000
  latencies.sort((a, b) => a - b)
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0
  return { requests: latencies.length, perSecond: latencies.length / seconds, p50: at(0.5), p99: at(0.99), errors }
}

function get(url: string, headers: Record<string, string>, agent: http.Agent): Promise<number> {
  return new Promise((resolve) => {
    http.get(url, { headers, agent }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    }).on('error', () => resolve(0))
  })
}
