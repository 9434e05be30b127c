import { availableParallelism } from 'node:os'
import { isMainThread } from 'node:worker_threads'
import { ExportWorker } from '../lib/exports/worker'
import { logFn } from '../lib/log'
import { builtUploadThread, inlineUploader, threadUploader } from '../lib/storage/uploader'

let worker: Promise<ExportWorker | undefined> | undefined
let started: ExportWorker | undefined

/** This process's export worker, if its role runs one and it has started. */
export function useExportWorker(): ExportWorker | undefined {
  return started
}

/** Starts the worker once per process (none for OUTPORT_ROLE=web); a failed start may be retried. */
export function startExportWorker(): Promise<ExportWorker | undefined> {
  worker ??= (async () => {
    const context = await useAppContext()
    const { config } = context
    if (config.OUTPORT_ROLE === 'web') return undefined
    const uploadThread = builtUploadThread()
    const instance = new ExportWorker(context, {
      concurrency: config.EXPORT_WORKER_CONCURRENCY,
      maxAttempts: config.EXPORT_MAX_ATTEMPTS,
      retryBaseMs: config.EXPORT_RETRY_BASE_MS,
      workDir: config.EXPORT_WORK_DIR,
      leaseMs: config.EXPORT_LEASE_SECONDS * 1000,
      heartbeatMs: config.EXPORT_LEASE_SECONDS * 1000 / 3,
      // Expired leases are found by the sweep: never wait much longer than a lease for it.
      sweepMs: Math.min(5000, config.EXPORT_LEASE_SECONDS * 1000),
      log: logFn(useLog().child({ component: 'worker' })),
      // In the built server; from source (development) the uploads run on the event loop.
      uploader: uploadThread ? threadUploader(uploadThread) : inlineUploader,
      // Only where HTTP is served by the process's main thread (the built server): under `nuxi dev`
      // the server runs on a worker thread, which the main thread's id would not protect.
      threadNice: isMainThread ? config.EXPORT_THREAD_NICE : 0,
      // DuckDB's default is a thread per core.
      duckdbThreads: config.DUCKDB_THREADS ?? availableParallelism(),
      metrics: useMetrics().worker,
      // Every notification channel, each once per job; none of them can change the job.
      onFinished: async (jobId) => {
        // Deliveries first: a job with destinations is announced once they settle.
        await useDestinationDeliverer()?.jobCompleted(jobId).catch((error: Error) => console.warn(`[outport:destinations] job ${jobId}: ${error.message}`))
        ;(await useNotifications()).jobFinished(jobId)
        // A schedule's run: count it towards (or reset) the schedule's failures in a row.
        await settleScheduledRun(jobId).catch((error: Error) => console.warn(`[outport:schedules] job ${jobId}: ${error.message}`))
      }
    })
    await instance.start()
    started = instance
    return instance
  })().catch((error) => {
    worker = undefined
    throw error
  })
  return worker
}
