/**
 * The safety net behind LISTEN/NOTIFY: claims jobs whose notification was missed, whose retry
 * backoff has passed, or whose worker died. Scheduled every minute; the worker also sweeps itself
 * every few seconds, so this matters mostly for a worker whose timer was starved.
 */
export default defineTask({
  meta: { name: 'exports:sweep', description: 'Claim waiting export jobs' },
  async run() {
    const worker = await startExportWorker()
    worker?.poke()
    return { result: worker ? 'poked' : 'no worker in this process' }
  }
})
