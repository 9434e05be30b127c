import { z } from 'zod'

export const MAX_FILTER_IDS = 1000

const id = z.guid('Must be a UUID')

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'Must be a date as YYYY-MM-DD').refine((value) => {
  const date = new Date(`${value}T00:00:00Z`)
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value)
}, 'Must be a real calendar date')

const ids = (what: string) => z.array(id).max(MAX_FILTER_IDS, `At most ${MAX_FILTER_IDS} ${what}`)
  .transform(values => [...new Set(values.map(v => v.toLowerCase()))])

/** The export request: validated by the dialog before sending and by the API on arrival. */
export const CreateExportSchema = z.strictObject({
  dataset_id: id,
  format: z.enum(['csv', 'parquet'], 'Must be "csv" or "parquet"'),
  start_date: isoDate.nullish(),
  end_date: isoDate.nullish(),
  account_ids: ids('accounts').nullish(),
  tag_ids: ids('tags').nullish()
}).refine(v => !v.start_date || !v.end_date || v.start_date <= v.end_date, {
  path: ['end_date'],
  message: 'The end date must be on or after the start date'
})

export type CreateExportInput = z.input<typeof CreateExportSchema>
export type CreateExportRequest = z.output<typeof CreateExportSchema>

export const ListExportsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional()
})
