import { appendFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { tailFile } from '#server/lib/storage/tail'

describe('tailFile', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'outport-tail-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  async function collect(source: AsyncIterable<Buffer>, onChunk: () => void = () => {}): Promise<string> {
    const chunks: Buffer[] = []
    for await (const chunk of source) {
      chunks.push(chunk)
      onChunk()
    }
    return Buffer.concat(chunks).toString()
  }

  it('reads what is appended while the writer runs, waits for a file not created yet, and ends with the writer', async () => {
    const path = join(dir, 'growing.csv')
    let writerDone = false
    let readBeforeDone = 0
    const finished = (async () => {
      await sleep(30)
      for (let i = 0; i < 20; i++) {
        await appendFile(path, `line ${i}\n`)
        await sleep(5)
      }
      writerDone = true
    })()
    const text = await collect(tailFile(path, { finished, pollMs: 2, chunkBytes: 16 }), () => {
      if (!writerDone) readBeforeDone++
    })
    expect(text).toBe(Array.from({ length: 20 }, (_, i) => `line ${i}\n`).join(''))
    // The point of it: bytes were read while the writer was still writing.
    expect(readBeforeDone).toBeGreaterThan(5)
  })

  it('reads the last bytes written just before the writer said it was done', async () => {
    const path = join(dir, 'last.csv')
    await appendFile(path, 'a')
    let done!: () => void
    const finished = new Promise<void>((resolve) => {
      done = resolve
    })
    const reading = collect(tailFile(path, { finished, pollMs: 20 }))
    await sleep(30)
    await appendFile(path, 'bc')
    done()
    expect(await reading).toBe('abc')
  })

  it('fails with the writer\'s error, and when aborted', async () => {
    const path = join(dir, 'failing.csv')
    await appendFile(path, 'partial')
    await expect(collect(tailFile(path, { finished: sleep(20).then(() => Promise.reject(new Error('COPY failed'))), pollMs: 2 }))).rejects.toThrow('COPY failed')
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 20)
    await expect(collect(tailFile(path, { finished: new Promise(() => {}), signal: controller.signal, pollMs: 2 }))).rejects.toThrow(/abort/i)
  })

  it('fails when the writer finished without ever creating the file', async () => {
    await expect(collect(tailFile(join(dir, 'never.csv'), { finished: Promise.resolve(), pollMs: 2 }))).rejects.toMatchObject({ code: 'ENOENT' })
  })
})
