import { open, type FileHandle } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'

export interface TailOptions {
  /** Settles when the writer is done: fulfilled, the file is whole; rejected, the read fails with it. */
  finished: Promise<unknown>
  signal?: AbortSignal
  /** How long to wait for the writer when the reader has caught up. */
  pollMs?: number
  chunkBytes?: number
}

/**
 * Reads a file while another writer (DuckDB's COPY, the Excel writer) is still appending to it, so
 * its bytes can be uploaded as they are written instead of after. Ends once `finished` has
 * fulfilled and every byte written before that has been read. Only for writers that append: a
 * writer that seeks back and rewrites would be read wrong (tests hold each format's file and upload
 * byte-identical).
 */
export async function* tailFile(path: string, opts: TailOptions): AsyncGenerator<Buffer> {
  let state = 'writing' as 'writing' | 'done' | 'failed'
  let failure: unknown
  opts.finished.then(() => {
    state = 'done'
  }, (error) => {
    state = 'failed'
    failure = error
  })
  const pollMs = opts.pollMs ?? 10
  const chunkBytes = opts.chunkBytes ?? 1024 * 1024
  let handle: FileHandle | undefined
  // A buffer is handed on with the bytes read into it; one that a poll found nothing for is kept.
  let buffer: Buffer | undefined
  try {
    let position = 0
    for (;;) {
      opts.signal?.throwIfAborted()
      // The state is taken before the read: taken after, a writer that finished between the two
      // would lose the bytes it wrote last.
      const settled = state
      if (settled === 'failed') throw failure
      handle ??= await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
        // The writer may not have created the file yet.
        if (error.code === 'ENOENT' && settled === 'writing') return undefined
        throw error
      })
      if (handle) {
        buffer ??= Buffer.allocUnsafe(chunkBytes)
        const { bytesRead } = await handle.read(buffer, 0, chunkBytes, position)
        if (bytesRead > 0) {
          const chunk = buffer.subarray(0, bytesRead)
          buffer = undefined
          position += bytesRead
          yield chunk
          continue
        }
        if (settled === 'done') return
      }
      await sleep(pollMs)
    }
  } finally {
    await handle?.close()
  }
}
