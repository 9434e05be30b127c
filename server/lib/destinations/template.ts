import { exportFilename } from '#shared/utils/filename'
import type { TemplatePlaceholder } from '#shared/types/destinations'
import type { ExportJob } from '../exports/jobs/record'

/**
 * Where a delivery puts the file: the destination's template with the run's values filled in. A
 * template without `{filename}` names a folder, so the file name is appended. Values are made safe
 * as single path segments (no `/`, no `..`), so a dataset or schedule name cannot move the file
 * elsewhere.
 */

export function slug(text: string): string {
  return text.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80) || 'unnamed'
}

function segment(value: string): string {
  const safe = value.replace(/[/\\]/g, '_')
  return safe === '.' || safe === '..' ? '_' : safe
}

export function templateValues(job: ExportJob, completedAt: Date): Record<TemplatePlaceholder, string> {
  const { metadata } = job
  const iso = completedAt.toISOString()
  return {
    dataset: metadata.dataset_name,
    format: metadata.format,
    job_id: job.id,
    schedule: job.scheduleId || metadata.schedule ? slug(metadata.schedule?.name ?? 'schedule') : 'manual',
    yyyy: iso.slice(0, 4),
    mm: iso.slice(5, 7),
    dd: iso.slice(8, 10),
    filename: exportFilename(metadata)
  }
}

/** The template filled in; `absolute` keeps a leading `/` (SFTP), else the path is relative (object keys). */
export function renderPath(template: string, values: Record<TemplatePlaceholder, string>, { absolute = false } = {}): string {
  const withName = template.includes('{filename}') ? template : `${template.replace(/\/+$/, '')}/{filename}`
  const filled = withName.replace(/\{([a-z_]+)\}/g, (_, name: TemplatePlaceholder) => segment(values[name]))
  const parts = filled.split('/').filter(part => part !== '' && part !== '.')
  return (absolute && filled.startsWith('/') ? '/' : '') + parts.join('/')
}

/** The part of a template before its first placeholder, as a folder: where a test writes its marker. */
export function staticFolder(template: string, { absolute = false } = {}): string {
  const head = template.split('{')[0]!
  const folder = head.includes('/') ? head.slice(0, head.lastIndexOf('/')) : ''
  const parts = folder.split('/').filter(part => part !== '' && part !== '.')
  return (absolute && template.startsWith('/') ? '/' : '') + parts.join('/')
}
