import { describe, expect, it } from 'vitest'
import { renderPath, slug, staticFolder, templateValues } from '#server/lib/destinations/template'
import type { ExportJob } from '#server/lib/exports/jobs/record'

const job = (extra: Partial<ExportJob['metadata']> = {}, scheduleId: string | null = null) => ({
  id: '3f1c2a64-8d7e-4b5a-9c1d-2e3f4a5b6c7d',
  scheduleId,
  metadata: { dataset_id: 'd', dataset_name: 'fct_transactions', format: 'csv', compression: 'gzip', filters: { start_date: '2026-01-01', end_date: '2026-01-31', account_ids: [], tag_ids: [] }, ...extra }
}) as unknown as ExportJob

describe('destination path templates', () => {
  const completed = new Date('2026-03-04T23:59:00Z')

  it('fills every placeholder, dates from the completion in UTC', () => {
    const values = templateValues(job(), completed)
    expect(renderPath('{dataset}/{format}/{schedule}/{yyyy}/{mm}/{dd}/{job_id}/{filename}', values))
      .toBe('fct_transactions/csv/manual/2026/03/04/3f1c2a64-8d7e-4b5a-9c1d-2e3f4a5b6c7d/fct_transactions_2026-01-01_to_2026-01-31.csv.gz')
  })

  it('treats a template without {filename} as a folder, keeps SFTP paths absolute and object keys relative', () => {
    const values = templateValues(job(), completed)
    expect(renderPath('exports/{yyyy}/', values)).toBe('exports/2026/fct_transactions_2026-01-01_to_2026-01-31.csv.gz')
    expect(renderPath('/upload//{dataset}-{filename}', values, { absolute: true })).toBe('/upload/fct_transactions-fct_transactions_2026-01-01_to_2026-01-31.csv.gz')
    expect(renderPath('/upload/{filename}', values)).toBe('upload/fct_transactions_2026-01-01_to_2026-01-31.csv.gz')
  })

  it('names a schedule\'s runs by its slug, and a value can never add a segment or climb out', () => {
    expect(templateValues(job({ schedule: { name: 'Nightly Lake: EU/UK!', trigger: 'cadence', missed_slots: 0 } }, 's'), completed).schedule).toBe('nightly-lake-eu-uk')
    expect(slug('***')).toBe('unnamed')
    const values = { ...templateValues(job(), completed), dataset: '../etc' }
    expect(renderPath('{dataset}/{filename}', values).split('/')).toEqual(['.._etc', 'fct_transactions_2026-01-01_to_2026-01-31.csv.gz'])
    expect(renderPath('{dataset}/{filename}', { ...values, dataset: '..' }).split('/')[0]).toBe('_')
  })

  it('finds the fixed folder before the first placeholder (where a test writes its marker)', () => {
    expect(staticFolder('drop/outport/{dataset}/{filename}')).toBe('drop/outport')
    expect(staticFolder('drop/x{dataset}/{filename}')).toBe('drop')
    expect(staticFolder('{dataset}/{filename}')).toBe('')
    expect(staticFolder('/home/acme/in/{yyyy}/{filename}', { absolute: true })).toBe('/home/acme/in')
  })
})
