/**
 * Builds the process context and starts the export worker at start-up rather than on the first
 * request, so configuration errors surface at once (in development the demo sign-in is printed).
 * On shutdown (SIGTERM) the worker stops claiming and finishes or hands back its jobs.
 */
export default defineNitroPlugin((nitroApp) => {
  startExportWorker().catch((error) => {
    console.error(`[outport] ${error instanceof Error ? error.message : error}`)
  })
  nitroApp.hooks.hook('close', async () => {
    const context = await useAppContext().catch(() => undefined)
    await useExportWorker()?.stop((context?.config.EXPORT_SHUTDOWN_GRACE_SECONDS ?? 20) * 1000)
    await context?.close()
  })
})
