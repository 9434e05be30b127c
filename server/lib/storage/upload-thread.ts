/**
 * The upload thread's entry: exports' uploads (reading the work file as it is written, hashing it,
 * the S3 requests and their buffers) run here, on their own event loop and heap, so the HTTP
 * server's event loop does not wait on them. Built into `.output/server/upload-thread.mjs`; the
 * main thread's side is `uploader.ts`.
 */
import { parentPort } from 'node:worker_threads'
import { createStorage, uploadGrowingFile, UploadFencedError, type Storage } from './s3'
import type { FromUploadThread, ToUploadThread, UploadRequest, UploadThreadError } from './upload-protocol'

interface Running {
  finished: (failed: boolean) => void
  abort: AbortController
  fenceAnswers: Array<(held: boolean) => void>
}

const port = parentPort!
const running = new Map<number, Running>()
const storages = new Map<string, Storage>()
const send = (message: FromUploadThread) => port.postMessage(message)

port.on('message', (message: ToUploadThread) => {
  if (message.type === 'upload') return void upload(message)
  const run = running.get(message.id)
  if (!run) return
  if (message.type === 'finished') run.finished(message.failed)
  else if (message.type === 'abort') run.abort.abort()
  else run.fenceAnswers.shift()?.(message.held)
})

async function upload(request: UploadRequest): Promise<void> {
  const key = JSON.stringify(request.storage)
  const storage = storages.get(key) ?? storages.set(key, createStorage(request.storage)).get(key)!
  let finished!: (failed: boolean) => void
  const writer = new Promise<void>((resolve, reject) => {
    finished = failed => failed ? reject(new Error('The file\'s writer failed')) : resolve()
  })
  writer.catch(() => {})
  const run: Running = { finished, abort: new AbortController(), fenceAnswers: [] }
  running.set(request.id, run)
  try {
    const result = await uploadGrowingFile(storage, request.key, {
      path: request.path,
      finished: writer,
      prefix: request.prefix ? Buffer.from(request.prefix) : undefined
    }, {
      contentType: request.contentType,
      partSize: request.partSize,
      queueSize: request.queueSize,
      signal: run.abort.signal,
      onProgress: bytes => send({ type: 'progress', id: request.id, bytes }),
      fence: request.fenced
        ? () => new Promise<boolean>((resolve) => {
            run.fenceAnswers.push(resolve)
            send({ type: 'fence', id: request.id })
          })
        : undefined
    })
    send({ type: 'done', id: request.id, result })
  } catch (error) {
    send({ type: 'failed', id: request.id, error: describe(error) })
  } finally {
    running.delete(request.id)
  }
}

function describe(error: unknown): UploadThreadError {
  const e = error as { message?: string, name?: string, code?: string, $metadata?: { httpStatusCode?: number }, cause?: { code?: string } }
  return {
    message: e.message ?? String(error),
    name: e.name ?? 'Error',
    code: e.code ?? e.cause?.code,
    status: e.$metadata?.httpStatusCode,
    fenced: error instanceof UploadFencedError
  }
}
