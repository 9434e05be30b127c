import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A local stand-in for Slack's incoming webhooks, speaking their protocol: a JSON POST to
 * /services/<team>/<bot>/<secret> with `text` and/or Block Kit `blocks`, answered 200 `ok`; a
 * body Slack would refuse is 400 `invalid_payload` / `invalid_blocks`, an unknown URL 404
 * `no_service`, as Slack documents. `script` makes the next answers fail (429 with Retry-After, 500, 410).
 */

/** A Block Kit block as posted: loosely typed, as Slack reads it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type SlackBlock = Record<string, any>
export interface SlackPost { path: string, contentType: string | undefined, body: { text?: string, blocks?: SlackBlock[] } }

const BLOCK_TYPES = new Set(['header', 'section', 'actions', 'context', 'divider'])

/** Why Slack would refuse these blocks, or null (the limits of Slack's Block Kit reference). */
function invalidBlocks(blocks: unknown): string | null {
  if (!Array.isArray(blocks) || blocks.length > 50) return 'blocks must be an array of at most 50'
  for (const block of blocks as SlackBlock[]) {
    if (!BLOCK_TYPES.has(block.type)) return `unknown block type ${block.type}`
    if (block.type === 'header' && (block.text?.type !== 'plain_text' || block.text.text.length > 150)) return 'header text must be plain_text of at most 150'
    if (block.type === 'section') {
      if (!block.text && !block.fields) return 'section needs text or fields'
      if (block.fields && (block.fields.length > 10 || block.fields.some((f: { text: string }) => f.text.length > 2000))) return 'section fields: at most 10 of 2000'
    }
    if (block.type === 'actions') {
      for (const e of block.elements) if (e.type !== 'button' || e.text?.type !== 'plain_text' || e.text.text.length > 75 || !/^https?:\/\//.test(e.url) || e.url.length > 3000) return 'bad button'
    }
  }
  return null
}

export interface FakeSlack {
  /** The incoming-webhook URL this fake accepts. */
  hookUrl: string
  url: string
  posts: SlackPost[]
  /** Answers the next requests with these (status, body[, retry-after]) before going back to 200 ok. */
  script: (...answers: Array<[number, string, number?]>) => void
  close: () => Promise<void>
}

export async function startFakeSlack(secret = 'xoxSECRETabcdef1234567890'): Promise<FakeSlack> {
  const hookPath = `/services/T0OUTPORT/B0OUTPORT/${secret}`
  const posts: SlackPost[] = []
  const pending: Array<[number, string, number?]> = []
  const server: Server = createServer((req, res) => {
    let raw = ''
    req.on('data', (c: Buffer) => (raw += c))
    req.on('end', () => {
      const answer = (status: number, text: string, retryAfter?: number) =>
        res.writeHead(status, { 'content-type': 'text/plain', ...(retryAfter !== undefined && { 'retry-after': String(retryAfter) }) }).end(text)
      if (req.method !== 'POST' || req.url !== hookPath) return answer(404, 'no_service')
      let body: SlackPost['body']
      try {
        body = JSON.parse(raw)
      } catch {
        return answer(400, 'invalid_payload')
      }
      posts.push({ path: req.url, contentType: req.headers['content-type'], body })
      const scripted = pending.shift()
      if (scripted) return answer(...scripted)
      if (typeof body.text !== 'string' && !body.blocks) return answer(400, 'no_text')
      if (body.blocks && invalidBlocks(body.blocks)) return answer(400, 'invalid_blocks')
      answer(200, 'ok')
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    hookUrl: url + hookPath,
    url,
    posts,
    script: (...answers) => pending.push(...answers),
    close: () => new Promise<void>(resolve => server.close(() => resolve()))
  }
}
