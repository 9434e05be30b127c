import { createServer, Socket, type Server } from 'node:net'

/**
 * A TCP proxy in front of a real service (s3rver) for fault injection: it can pass traffic, slow
 * the client's uploads to a trickle (to catch an export mid-upload), or be "down" (connections
 * reset at once, as from a crashed server).
 */
export interface FaultProxy {
  port: number
  endpoint: string
  mode: 'pass' | 'down'
  /** Client-to-server bytes per second; 0 for unlimited. */
  uploadBytesPerSecond: number
  /** Resets every open connection (e.g. to cut an upload in flight). */
  cutAll: () => void
  close: () => Promise<void>
}

export async function startFaultProxy(targetPort: number, opts: { uploadBytesPerSecond?: number, mode?: 'pass' | 'down' } = {}): Promise<FaultProxy> {
  const open = new Set<Socket>()
  const proxy: FaultProxy = {
    port: 0,
    endpoint: '',
    mode: opts.mode ?? 'pass',
    uploadBytesPerSecond: opts.uploadBytesPerSecond ?? 0,
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
    const upstream = new Socket()
    open.add(client)
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
    let throttledUntil = 0
    const resume = () => {
      if (Date.now() >= throttledUntil && !upstream.writableNeedDrain) client.resume()
    }
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk)
      client.pause()
      const rate = proxy.uploadBytesPerSecond
      const wait = rate > 0 ? Math.ceil(chunk.length / rate * 1000) : 0
      throttledUntil = Date.now() + wait
      setTimeout(resume, wait)
    })
    upstream.on('drain', resume)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  proxy.port = typeof address === 'object' && address ? address.port : 0
  proxy.endpoint = `http://127.0.0.1:${proxy.port}`
  return proxy
}
