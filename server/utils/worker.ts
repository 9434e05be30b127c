import { ExportWorker } from '../lib/exports/worker'

let worker: ExportWorker | undefined

/** This process's export worker, if its role runs one. */
export function useExportWorker(): ExportWorker | undefined {
  return worker
}

export async function startExportWorker(): Promise<ExportWorker | undefined> {
  const context = await useAppContext()
  const { config } = context
  if (config.OUTPORT_ROLE === 'web' || worker) return worker
  worker = new ExportWorker(context, {
    concurrency: config.EXPORT_WORKER_CONCURRENCY,
    maxAttempts: config.EXPORT_MAX_ATTEMPTS,
    retryBaseMs: config.EXPORT_RETRY_BASE_MS,
    workDir: config.EXPORT_WORK_DIR,
    log: line => console.warn(`[outport:worker] ${line}`)
  })
  await worker.start()
  return worker
}
