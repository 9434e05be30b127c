import { createServer as createHttpServer, request as httpRequest } from 'node:http'
import { createServer, Socket, type Server } from 'node:net'

/**
 * A TCP proxy in front of a real service (s3rver) for fault injection: it can pass traffic, slow
 * the client's uploads to a trickle (to catch an export mid-upload), or be "down" (connections
 * reset at once, as from a crashed server).
 */
export interface FaultProxy {
  port: number
  endpoint: string
  /** down: connections are reset at once; stall: accepted, then never answered (a hung server). */
  mode: 'pass' | 'down' | 'stall'
  /** Client-to-server bytes per second; 0 for unlimited. */
  uploadBytesPerSecond: number
  /** Resets every open connection (e.g. to cut an upload in flight). */
  cutAll: () => void
  close: () => Promise<void>
}

export async function startFaultProxy(targetPort: number, opts: { uploadBytesPerSecond?: number, mode?: FaultProxy['mode'] } = {}): Promise<FaultProxy> {
  const open = new Set<Socket>()
  // Connections waiting out the throttle: lifting it wakes them at once, or a 64 KB read at
  // 2,000 B/s would hold its connection for half a minute after the test lifted the throttle.
  const waiting = new Set<() => void>()
  let rate = opts.uploadBytesPerSecond ?? 0
  const proxy: FaultProxy = {
    port: 0,
    endpoint: '',
    mode: opts.mode ?? 'pass',
    get uploadBytesPerSecond() {
      return rate
    },
    set uploadBytesPerSecond(value: number) {
      rate = value
      if (value === 0) for (const wake of [...waiting]) wake()
    },
    cutAll: () => {
      for (const socket of open) socket.resetAndDestroy()
    },
    close: async () => {
      proxy.cutAll()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
  const server: Server = createServer((client) => {
    if (proxy.mode === 'down') {
      client.resetAndDestroy()
      return
    }
    open.add(client)
    if (proxy.mode === 'stall') {
      client.on('error', () => open.delete(client)).on('close', () => open.delete(client))
      return
    }
    const upstream = new Socket()
    open.add(upstream)
    const drop = () => {
      open.delete(client)
      open.delete(upstream)
      client.destroy()
      upstream.destroy()
    }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    upstream.connect(targetPort, '127.0.0.1')
    upstream.pipe(client)
    // Reading resumes once the throttle's timer has run and the upstream has room. The timer itself
    // is the gate: comparing clocks instead can deadlock, as Node may fire a timer a millisecond
    // before Date.now() says it is due.
    let throttled = false
    const resume = () => {
      if (!throttled && !upstream.writableNeedDrain) client.resume()
    }
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk)
      if (rate > 0) {
        client.pause()
        throttled = true
        const wake = () => {
          clearTimeout(timer)
          waiting.delete(wake)
          throttled = false
          resume()
        }
        const timer = setTimeout(wake, Math.ceil(chunk.length / rate * 1000))
        waiting.add(wake)
      } else if (upstream.writableNeedDrain) {
        client.pause()
      }
    })
    upstream.on('drain', resume)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  proxy.port = typeof address === 'object' && address ? address.port : 0
  proxy.endpoint = `http://127.0.0.1:${proxy.port}`
  return proxy
}

/**
 * An HTTP proxy in front of a real service that records each request (`HEAD /bucket`, …), to count
 * what the server under test asks of it; `down` resets each connection instead. With `holdCommits`
 * it holds each request that commits an S3 object — a CompleteMultipartUpload POST, a single
 * PutObject — before it reaches the server, until `release()`: a commit already on the wire when
 * its export is cancelled or deleted.
 */
export interface RecordingProxy {
  endpoint: string
  requests: string[]
  down: boolean
  holdCommits: boolean
  /** The commits held now (`PUT /bucket/key`, `POST /bucket/key?uploadId=…`). */
  held: string[]
  /**
   * Sends the held commits on to the server (and holds no more until `holdCommits` is set again);
   * resolves once the server has answered each: their objects have landed.
   */
  release: () => Promise<void>
  close: () => Promise<void>
}

/** A request that creates an object: a multipart upload's completion, or a PUT that is no part. */
function commitsObject(method: string | undefined, url: string): boolean {
  const query = new URLSearchParams(url.split('?')[1] ?? '')
  return (method === 'POST' && query.has('uploadId')) || (method === 'PUT' && !query.has('partNumber') && url.split('?')[0]!.split('/').length > 2)
}

export async function startRecordingProxy(targetPort: number): Promise<RecordingProxy> {
  const waiting: Array<() => Promise<void>> = []
  const server = createHttpServer((req, res) => {
    proxy.requests.push(`${req.method} ${req.url}`)
    if (proxy.down) return void req.socket.resetAndDestroy()
    const answered = new Promise<void>(resolve => res.on('close', resolve))
    const forward = () => {
      const upstream = httpRequest({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      })
      upstream.on('error', () => res.destroy())
      req.pipe(upstream)
    }
    if (!proxy.holdCommits || !commitsObject(req.method, req.url ?? '')) return forward()
    const name = `${req.method} ${req.url}`
    proxy.held.push(name)
    waiting.push(() => {
      proxy.held.splice(proxy.held.indexOf(name), 1)
      forward()
      return answered
    })
  })
  const proxy: RecordingProxy = {
    endpoint: '',
    requests: [],
    down: false,
    holdCommits: false,
    held: [],
    release: async () => {
      proxy.holdCommits = false
      await Promise.all(waiting.splice(0).map(go => go()))
    },
    close: () => new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  }
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  proxy.endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
  return proxy
}
