import type { LocationQuery, LocationQueryRaw } from 'vue-router'
import { EXPORT_SOURCES, type ExportJobDTO, type ExportSource } from '#shared/types/exports'
import { JOB_STATUS_IDS, type JobStatus } from '#shared/types/jobs'

/** The export history's filters as the page's URL keeps them (`/analytics/exports?status=failed&created=7d`). */
export interface HistoryFilters {
  dataset_id?: string
  status: JobStatus[]
  source?: ExportSource
  schedule_id?: string
  created?: CreatedWithin
}

export const CREATED_WITHIN = {
  '24h': { label: 'Last 24 hours', hours: 24 },
  '7d': { label: 'Last 7 days', hours: 24 * 7 },
  '30d': { label: 'Last 30 days', hours: 24 * 30 }
} as const
export type CreatedWithin = keyof typeof CREATED_WITHIN

export const SOURCE_LABELS: Record<ExportSource, string> = { manual: 'Manual', api: 'API', schedule: 'Schedule' }

const one = (value: LocationQuery[string] | undefined) => (Array.isArray(value) ? value[0] : value) ?? undefined
const isOneOf = <T extends string>(values: readonly T[], value: string | undefined): value is T => !!value && (values as readonly string[]).includes(value)

/** The filters a URL names; values the page does not know are left out rather than sent to fail. */
export function historyFiltersFromQuery(query: LocationQuery): HistoryFilters {
  const source = one(query.source) ?? undefined
  const created = one(query.created) ?? undefined
  return {
    dataset_id: one(query.dataset_id) || undefined,
    status: (one(query.status) ?? '').split(',').filter((s): s is JobStatus => isOneOf(JOB_STATUS_IDS, s)),
    source: isOneOf(EXPORT_SOURCES, source) ? source : undefined,
    schedule_id: one(query.schedule_id) || undefined,
    created: isOneOf(Object.keys(CREATED_WITHIN) as CreatedWithin[], created) ? created : undefined
  }
}

/** The filters as URL query keys (the ones not set are left out). */
export function historyQuery(filters: HistoryFilters): LocationQueryRaw {
  return {
    ...(filters.dataset_id && { dataset_id: filters.dataset_id }),
    ...(filters.status.length && { status: filters.status.join(',') }),
    ...(filters.source && { source: filters.source }),
    ...(filters.schedule_id && { schedule_id: filters.schedule_id }),
    ...(filters.created && { created: filters.created })
  }
}

export function hasHistoryFilters(filters: HistoryFilters): boolean {
  return Object.keys(historyQuery(filters)).length > 0
}

/** The filters as GET /api/analytics/exports takes them; `created` becomes an instant, to the minute. */
export function historyApiQuery(filters: HistoryFilters, now = Date.now()): Record<string, string | undefined> {
  const minute = Math.floor(now / 60_000) * 60_000
  return {
    dataset_id: filters.dataset_id,
    status: filters.status.join(',') || undefined,
    source: filters.source,
    schedule_id: filters.schedule_id,
    created_after: filters.created ? new Date(minute - CREATED_WITHIN[filters.created].hours * 3600_000).toISOString() : undefined
  }
}

/** The dialog prefilled from an earlier export (seams: `/analytics/datasets?export=&from=`), or its schedule form. */
export function editExportLink(job: ExportJobDTO, schedule = false) {
  return { path: '/analytics/datasets', query: { export: job.dataset_id, from: job.job_id, ...(schedule && { schedule: '1' }) } }
}
