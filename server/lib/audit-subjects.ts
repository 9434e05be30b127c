import type { Db } from './db/client'
import { findDataset } from './warehouse/datasets'
import { jobsWithMetadata } from './exports/jobs/lookups'
import type { AuditEventDTO, AuditSubjectDTO, AuditSubjectKind } from '#shared/types/audit'
import { isUuid } from '#shared/utils/uuid'

type RawEvent = Omit<AuditEventDTO, 'subjects'>
type Ref = { kind: AuditSubjectKind, id: string, recorded: string | null }

/** An object gone from the tables: the name written with the event, else its kind and a short id. */
const FALLBACK: Record<AuditSubjectKind, string> = {
  export: 'Export',
  dataset: 'Dataset',
  schedule: 'Schedule',
  token: 'API token',
  destination: 'Destination'
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value ? value : null
}

/** What each event names, by its action and the details it was recorded with (read before any lookup). */
function refs(event: RawEvent): Ref[] {
  const d = event.details ?? {}
  const object = event.object_id
  const [group] = event.action.split('.')
  const out: Ref[] = []
  if (object && group === 'export') out.push({ kind: 'export', id: object, recorded: null })
  if (object && group === 'token') out.push({ kind: 'token', id: object, recorded: text(d.name) })
  if (object && group === 'destination') out.push({ kind: 'destination', id: object, recorded: text(d.name) })
  if (object && event.action === 'schedule.watermark_reset') out.push({ kind: 'schedule', id: object, recorded: null })
  const scheduleId = text(d.schedule_id)
  if (scheduleId) out.push({ kind: 'schedule', id: scheduleId, recorded: null })
  const destinationId = text(d.destination_id)
  if (destinationId) out.push({ kind: 'destination', id: destinationId, recorded: text(d.destination) })
  const datasetId = text(d.dataset_id)
  if (datasetId) out.push({ kind: 'dataset', id: datasetId, recorded: null })
  return out.filter(ref => ref.kind === 'dataset' || isUuid(ref.id))
}

function datasetTitle(id: string | undefined): string | null {
  return id ? findDataset(id)?.title ?? null : null
}

/**
 * Adds to each event the objects it names with their current names, looked up among the user's
 * own rows only (a few queries a page, whatever its size). A deleted object keeps a readable
 * name: the one recorded with the event, or its kind and a short id. An export's events name its
 * dataset too, from the job when the event did not record it.
 */
export async function withSubjects(db: Db, userId: string, events: RawEvent[]): Promise<AuditEventDTO[]> {
  const perEvent = events.map(refs)
  const ids = (kind: AuditSubjectKind) => [...new Set(perEvent.flat().filter(r => r.kind === kind).map(r => r.id))]
  const [jobs, schedules, tokens, destinations] = await Promise.all([
    jobsWithMetadata(db, userId, ids('export')),
    db.schedule.findMany({ where: { userId, id: { in: ids('schedule') } }, select: { id: true, name: true, request: true } }),
    db.apiToken.findMany({ where: { userId, id: { in: ids('token') } }, select: { id: true, name: true } }),
    db.destination.findMany({ where: { userId, id: { in: ids('destination') } }, select: { id: true, name: true } })
  ])
  const jobById = new Map(jobs.map((job) => {
    const metadata = (job.metadata ?? {}) as { dataset_id?: string, dataset_name?: string, format?: string }
    const dataset = datasetTitle(metadata.dataset_id) ?? metadata.dataset_name ?? FALLBACK.dataset
    return [job.id, { name: metadata.format ? `${dataset} · ${metadata.format.toUpperCase()}` : dataset, datasetId: metadata.dataset_id }]
  }))
  const names: Record<Exclude<AuditSubjectKind, 'dataset'>, Map<string, string>> = {
    export: new Map([...jobById].map(([id, job]) => [id, job.name])),
    schedule: new Map(schedules.map(s => [s.id, s.name || `${datasetTitle((s.request as { dataset_id?: string }).dataset_id) ?? FALLBACK.dataset} schedule`])),
    token: new Map(tokens.map(t => [t.id, t.name])),
    destination: new Map(destinations.map(d => [d.id, d.name]))
  }

  return events.map((event, i) => {
    const found = perEvent[i]!
    const job = found.find(r => r.kind === 'export')
    const jobDataset = job && jobById.get(job.id)?.datasetId
    if (jobDataset && !found.some(r => r.kind === 'dataset')) found.push({ kind: 'dataset', id: jobDataset, recorded: null })
    const subjects = found.map((ref): AuditSubjectDTO => {
      const name = ref.kind === 'dataset' ? datasetTitle(ref.id) : names[ref.kind].get(ref.id)
      return { kind: ref.kind, id: ref.id, name: name ?? ref.recorded ?? `${FALLBACK[ref.kind]} ${ref.id.slice(0, 8)}`, exists: name !== null && name !== undefined }
    })
    return { ...event, subjects }
  })
}
