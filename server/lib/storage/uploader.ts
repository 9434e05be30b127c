import { existsSync } from 'node:fs'
import { Worker } from 'node:worker_threads'
import { uploadGrowingFile, UploadFencedError, type GrowingFile, type Storage, type UploadOptions, type UploadResult } from './s3'
import type { FromUploadThread, ToUploadThread, UploadThreadError } from './upload-protocol'

/** Uploads exports' files to S3: on this thread, or on an upload thread. */
export interface Uploader {
  upload: (storage: Storage, key: string, file: GrowingFile, opts: UploadOptions) => Promise<UploadResult>
  close: () => Promise<void>
}

/** On the calling thread: the engine's tests, and development (which has no built thread file). */
export const inlineUploader: Uploader = { upload: uploadGrowingFile, close: async () => {} }

/**
 * The built upload thread (`.output/server/upload-thread.mjs`), found from the module that asks
 * (inside the server's bundle, a chunk two folders below it); none when running from source.
 */
export function builtUploadThread(from = import.meta.url): URL | undefined {
  for (const up of ['./', '../', '../../']) {
    const file = new URL(`${up}upload-thread.mjs`, from)
    if (existsSync(file)) return file
  }
  return undefined
}

/** The upload thread stopped (crashed) with this upload under way; a retry starts a new one. */
export class UploadThreadExited extends Error {}

interface Pending {
  resolve: (result: UploadResult) => void
  reject: (error: Error) => void
  opts: UploadOptions
}

/**
 * Uploads on one long-lived worker thread (`upload-thread.ts`, built to `file`) shared by all of
 * the process's exports: reading, hashing and sending the bytes, and the garbage of the part
 * buffers, stay off the event loop that serves HTTP. The thread starts at once and again after a
 * crash.
 */
export function threadUploader(file: URL): Uploader {
  let thread: Worker | undefined
  let nextId = 1
  const pending = new Map<number, Pending>()

  const start = (): Worker => {
    const worker = new Worker(file)
    // Exports keep the process alive on their own; an idle thread must not.
    worker.unref()
    worker.on('message', (message: FromUploadThread) => {
      const upload = pending.get(message.id)
      if (!upload) return
      if (message.type === 'progress') upload.opts.onProgress?.(message.bytes)
      else if (message.type === 'fence') {
        void (upload.opts.fence?.() ?? Promise.resolve(true)).catch(() => false).then(held => post({ type: 'fence', id: message.id, held }))
      } else {
        pending.delete(message.id)
        if (message.type === 'done') upload.resolve(message.result)
        else upload.reject(rebuild(message.error))
      }
    })
    const exited = (why: string) => {
      if (thread === worker) thread = undefined
      for (const upload of pending.values()) upload.reject(new UploadThreadExited(`The upload thread stopped: ${why}`))
      pending.clear()
    }
    worker.on('error', (error: Error) => exited(error.message))
    worker.on('exit', code => exited(`exit code ${code}`))
    return worker
  }
  const post = (message: ToUploadThread) => thread?.postMessage(message)
  thread = start()

  return {
    upload(storage, key, growing, opts) {
      thread ??= start()
      const id = nextId++
      const done = new Promise<UploadResult>((resolve, reject) => pending.set(id, { resolve, reject, opts }))
      post({
        type: 'upload',
        id,
        storage: storage.config,
        key,
        path: growing.path,
        prefix: growing.prefix,
        contentType: opts.contentType,
        partSize: opts.partSize,
        queueSize: opts.queueSize,
        fenced: Boolean(opts.fence)
      })
      growing.finished.then(() => post({ type: 'finished', id, failed: false }), () => post({ type: 'finished', id, failed: true }))
      const onAbort = () => post({ type: 'abort', id })
      if (opts.signal?.aborted) onAbort()
      opts.signal?.addEventListener('abort', onAbort, { once: true })
      return done.finally(() => opts.signal?.removeEventListener('abort', onAbort))
    },
    async close() {
      await thread?.terminate()
    }
  }
}

function rebuild(error: UploadThreadError): Error {
  if (error.fenced) return new UploadFencedError()
  // The shape storageFailure reads: a network error's code, or the S3 response's status.
  return Object.assign(new Error(error.message), {
    name: error.name,
    ...(error.code && { code: error.code }),
    ...(error.status !== undefined && { $metadata: { httpStatusCode: error.status } })
  })
}
