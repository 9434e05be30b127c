import pg from 'pg'
import type { Db } from '../db/client'
import type { LogFn } from '../log'
import type { ExportJobDTO } from '#shared/types/exports'
import { CHANGES_CHANNEL, changesSince, currentChange, currentHorizon, parseChangeNotice, type JobChange } from './jobs/changes'
import type { ExportJob } from './jobs/record'

/**
 * Live export status for GET /api/analytics/exports/events: one hub per web process fans the
 * database's change notifications out to that process's open streams.
 *
 * - One LISTEN connection per process (opened with the first stream), not one per stream, and no
 *   polling: the notice carries the changed row, so each event shows its own change (a job
 *   created and claimed in the same millisecond gives two events) and costs no read; its DTO is
 *   serialised once for all the process's streams of that user.
 * - An event's id is a cursor, the horizon of its change: the xmin of the snapshot the change ran
 *   under (jobs/changes.ts). Whatever commits after the event was sent has change_xid >= it, so
 *   resuming from it replays from PostgreSQL the user's jobs changed at or after it, each as it
 *   is now: nothing is missed (some events come again: a client keeps each job's newest state,
 *   and a job's changes carry increasing numbers). Unlike a per-user counter, this needs no lock
 *   held to commit, so transactions that change several users' jobs cannot deadlock on it; unlike
 *   timestamps (updated_at + id), a transaction that commits late cannot hide behind an early one.
 * - A stream's credential (session or API token) is checked every `authCheckMs` for all streams in
 *   one query per kind; a signed-out session or a revoked token ends its streams.
 * - A comment line every `heartbeatMs` keeps proxies from closing an idle stream.
 * - When the LISTEN connection drops, every stream replays from its last event once it is back.
 */

export type StreamCredential = { kind: 'session' | 'token', id: string }

export interface StreamSink {
  /** Writes SSE text; false when the client is not keeping up (Node's backpressure). */
  write: (chunk: string) => boolean
  /** Bytes written but not yet sent to the client. */
  pending: () => number
  /** Ends the response. */
  end: () => void
}

export interface OpenStream {
  userId: string
  /** Only this job's events (already checked to be the user's). */
  jobId: string | null
  credential: StreamCredential
  /** The client's Last-Event-ID (a cursor this hub sent); null for a fresh stream. */
  after: string | null
  sink: StreamSink
}

export interface ExportEventHubOptions {
  databaseUrl: string
  /** The job as the stream shows it (without a download URL). */
  toDTO: (job: ExportJob) => Promise<ExportJobDTO>
  /** Which of the given credentials are still live. */
  liveCredentials: (kind: StreamCredential['kind'], ids: string[]) => Promise<Set<string>>
  heartbeatMs?: number
  authCheckMs?: number
  /** A client that lets this much pile up is dropped (it resumes from its last event). */
  maxPendingBytes?: number
  log?: LogFn
}

interface Stream extends OpenStream {
  /** Per job, the number of the change last written: a notice of an older one is redundant. */
  written: Map<string, number>
  /** Notices held while the stream replays; null once it is live. */
  held: Array<{ seq: number, horizon: string, change: Promise<Prepared | null> }> | null
  closed: boolean
}

interface Prepared { change: JobChange, data: Promise<string> }

export const EVENT_NAME = 'export'
const RETRY_MS = 3000
const REPLAY_PAGE = 500

export class ExportEventHub {
  private readonly streams = new Map<string, Set<Stream>>()
  private listener?: pg.Client
  private connecting?: Promise<void>
  private delivery: Promise<void> = Promise.resolve()
  private heartbeat?: NodeJS.Timeout
  private authCheck?: NodeJS.Timeout
  private stopped = false
  private readonly opts: Required<Omit<ExportEventHubOptions, 'log'>> & { log: LogFn }

  constructor(private readonly db: Db, options: ExportEventHubOptions) {
    this.opts = { heartbeatMs: 15_000, authCheckMs: 30_000, maxPendingBytes: 1 << 20, log: () => {}, ...options }
  }

  /** Open streams in this process. */
  get size(): number {
    let n = 0
    for (const set of this.streams.values()) n += set.size
    return n
  }

  /**
   * Starts a stream: its first events are what it missed (after `after`) or, for one job without
   * `after`, the job as it is; then every change as it commits. Throws when the database cannot
   * be listened to (the route answers 503 and the client polls).
   */
  async open(open: OpenStream): Promise<() => void> {
    if (this.stopped) throw new Error('the server is shutting down')
    await this.connect()
    const stream: Stream = { ...open, written: new Map(), held: [], closed: false }
    let set = this.streams.get(open.userId)
    if (!set) this.streams.set(open.userId, set = new Set())
    set.add(stream)
    const close = () => this.close(stream)
    try {
      stream.sink.write(`retry: ${RETRY_MS}\n\n`)
      await this.replay(stream, open.after)
    } catch (error) {
      close()
      throw error
    }
    return close
  }

  private async replay(stream: Stream, after: string | null) {
    // Listening already: a change that commits from here on is held until the replay is written,
    // and has change_xid >= this horizon.
    const horizon = await currentHorizon(this.db)
    if (after === null && stream.jobId) {
      const now = await currentChange(this.db, stream.jobId)
      if (now) await this.write(stream, horizon, { change: now, data: this.serialise(now) })
    } else if (after !== null) {
      // Each replayed event carries the cursor resumed from, so a stream cut off mid-replay
      // replays it all again.
      for (let afterSeq = 0; ;) {
        const page = await changesSince(this.db, stream.userId, after, stream.jobId, afterSeq, REPLAY_PAGE)
        for (const change of page) await this.write(stream, after, { change, data: this.serialise(change) })
        afterSeq = page.at(-1)?.seq ?? afterSeq
        if (page.length < REPLAY_PAGE || stream.closed) break
      }
    }
    // The cursor of what was written so far, for a client that gets no event before it leaves.
    if (!stream.closed) stream.sink.write(`id: ${horizon}\n\n`)
    // Live only once nothing is held: a notice that comes meanwhile joins the queue being drained.
    for (let notice = stream.held?.shift(); notice; notice = stream.held?.shift()) {
      await this.deliverTo(stream, notice.seq, notice.horizon, await notice.change)
    }
    stream.held = null
  }

  private serialise(change: JobChange): Promise<string> {
    return this.opts.toDTO(change.job).then(dto => JSON.stringify(dto))
  }

  /** Writes the job's state as an event whose id is the cursor `id`. */
  private async write(stream: Stream, id: string, prepared: Prepared) {
    if (stream.closed) return
    const data = await prepared.data
    if (stream.closed) return
    stream.sink.write(`id: ${id}\nevent: ${EVENT_NAME}\ndata: ${data}\n\n`)
    const { job, seq } = prepared.change
    stream.written.set(job.id, Math.max(seq, stream.written.get(job.id) ?? 0))
    if (stream.sink.pending() > this.opts.maxPendingBytes) {
      this.opts.log('an export event stream fell behind; closed so that it resumes from its last event', { user_id: stream.userId })
      this.close(stream)
    }
  }

  private async deliverTo(stream: Stream, seq: number, horizon: string, prepared: Prepared | null) {
    if (stream.closed || !prepared) return
    const { job } = prepared.change
    if ((stream.jobId && job.id !== stream.jobId) || seq <= (stream.written.get(job.id) ?? 0)) return
    await this.write(stream, horizon, prepared)
  }

  private onNotice(payload: string | undefined) {
    const notice = parseChangeNotice(payload)
    if (!notice) return
    const set = this.streams.get(notice.userId)
    if (!set?.size) return
    // The change as the notice carries it (or, too large for a notice, the row read at once),
    // written in the order PostgreSQL announced the commits.
    const read = notice.job ? Promise.resolve({ seq: notice.seq, job: notice.job }) : currentChange(this.db, notice.jobId)
    const change = read.then(
      found => found && found.job.userId === notice.userId ? { change: found, data: this.serialise(found) } : null
    )
    change.catch(() => {})
    for (const stream of set) stream.held?.push({ seq: notice.seq, horizon: notice.horizon, change })
    this.delivery = this.delivery.then(async () => {
      const prepared = await change
      for (const stream of set) if (!stream.held) await this.deliverTo(stream, notice.seq, notice.horizon, prepared)
    }).catch((error: Error) => {
      // The streams cannot know what they missed: they end and resume from their last event.
      this.opts.log(`export events: could not read job ${notice.jobId}: ${error.message}`, { job_id: notice.jobId })
      for (const stream of set) this.close(stream)
    })
  }

  private close(stream: Stream) {
    if (stream.closed) return
    stream.closed = true
    const set = this.streams.get(stream.userId)
    set?.delete(stream)
    if (set && !set.size) this.streams.delete(stream.userId)
    stream.sink.end()
  }

  /** Resolves once this process listens for changes (throws when the database cannot be reached). */
  ready(): Promise<void> {
    if (this.stopped) return Promise.reject(new Error('the server is shutting down'))
    return this.connect()
  }

  private connect(): Promise<void> {
    if (this.listener) return Promise.resolve()
    this.connecting ??= this.listen().finally(() => {
      this.connecting = undefined
    })
    return this.connecting
  }

  private async listen() {
    const client = new pg.Client({ connectionString: this.opts.databaseUrl })
    client.on('notification', message => this.onNotice(message.payload))
    client.on('error', (error) => {
      this.opts.log(`export events: the listener lost its connection (${error.message}); reconnecting`)
      this.reconnect(client)
    })
    try {
      await client.connect()
      await client.query(`LISTEN ${CHANGES_CHANNEL}`)
    } catch (error) {
      void client.end().catch(() => {})
      throw error
    }
    this.listener = client
    this.heartbeat ??= setInterval(() => this.beat(), this.opts.heartbeatMs).unref()
    this.authCheck ??= setInterval(() => void this.checkCredentials(), this.opts.authCheckMs).unref()
  }

  private reconnect(client: pg.Client) {
    if (this.listener !== client) return
    this.listener = undefined
    void client.end().catch(() => {})
    // Notices sent while nobody listened are lost: every stream ends and its client resumes from
    // its last event, which replays them from the table.
    for (const set of [...this.streams.values()]) for (const stream of set) this.close(stream)
  }

  private beat() {
    for (const set of this.streams.values()) for (const stream of set) stream.sink.write(': heartbeat\n\n')
  }

  private async checkCredentials() {
    for (const kind of ['session', 'token'] as const) {
      const ids = new Set<string>()
      for (const set of this.streams.values()) for (const s of set) if (s.credential.kind === kind) ids.add(s.credential.id)
      if (!ids.size) continue
      const live = await this.opts.liveCredentials(kind, [...ids]).catch(() => null)
      // Unknown (the database is away): keep the streams rather than end every one of them.
      if (!live) continue
      for (const set of [...this.streams.values()]) {
        for (const s of [...set]) if (s.credential.kind === kind && !live.has(s.credential.id)) this.close(s)
      }
    }
  }

  /** Ends every stream (their clients reconnect to another process) and stops listening. */
  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.heartbeat)
    clearInterval(this.authCheck)
    for (const set of [...this.streams.values()]) for (const stream of set) this.close(stream)
    await this.connecting?.catch(() => {})
    const listener = this.listener
    this.listener = undefined
    await listener?.end().catch(() => {})
  }
}
