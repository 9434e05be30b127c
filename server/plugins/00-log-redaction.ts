import { redact } from '../lib/redact'

type Write = typeof process.stdout.write

/**
 * Every line this process prints passes through redact() (server/lib/redact.ts): Nitro's own
 * `[request error]` lines (the full URL of an unhandled 500, a download link's token included),
 * telegraf's error messages (a non-JSON Bot API answer names the URL with the bot token), our
 * console calls and anything else that writes to stdout or stderr (console, consola and `debug`
 * all end in these two streams' write()). Nitro runs plugins in file-name order: the `00-` prefix
 * puts this one first, before anything else can print.
 */
export default defineNitroPlugin(() => {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (typeof chunk === 'string') return write(redact(chunk), ...rest)
      if (chunk instanceof Uint8Array) {
        const text = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8')
        const clean = redact(text)
        // Only text that held a secret is re-encoded; other bytes pass as they were.
        return clean === text ? write(chunk, ...rest) : write(clean, ...rest)
      }
      return write(chunk, ...rest)
    }) as Write
  }
})
