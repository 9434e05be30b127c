/**
 * Starts Telegram (polling or webhook registration, and the notification sweep) with the server.
 * It is stopped by the context plugin's close hook, before the database it needs is closed.
 */
export default defineNitroPlugin(() => {
  startTelegram().catch((error) => {
    console.error(`[outport:telegram] ${error instanceof Error ? error.message : error}`)
  })
})
