import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SMTPServer } from 'smtp-server'

/**
 * The local SMTP catcher for `npm run dev` (as s3rver is the local S3): accepts every message on
 * 127.0.0.1 without authentication or TLS and writes it as an .eml file (open it in any mail client,
 * or read it as text). In the dev server's own process: it carries a few messages, not a load.
 */
export async function startMailCatcher(opts: { directory: string, port: number }): Promise<{ url: string, port: number, stop: () => Promise<void> }> {
  await mkdir(opts.directory, { recursive: true })
  let n = 0
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${++n}.eml`
        writeFile(join(opts.directory, name), Buffer.concat(chunks)).then(() => callback(), callback)
      })
    }
  })
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, '127.0.0.1', () => {
      const address = server.server.address()
      resolve(typeof address === 'object' && address ? address.port : opts.port)
    })
  })
  return { url: `smtp://127.0.0.1:${port}`, port, stop: () => new Promise(resolve => server.close(() => resolve())) }
}
