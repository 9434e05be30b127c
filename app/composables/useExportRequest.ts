import type { FormError } from '@nuxt/ui'
import type { MaybeRefOrGetter } from 'vue'
import type { FieldError } from '#shared/types/api'
import type { DatasetDTO } from '#shared/types/datasets'
import { CreateExportSchema, DEFAULT_CSV_OPTIONS, MAX_EXPORT_LIMIT, type CreateExportInput, type CsvOptions } from '#shared/types/exports'
import { EXPORT_FORMATS, type Compression, type ExportFormat, type ParquetCompression } from '#shared/types/formats'

/** The export dialog's fields: every one present, whatever the format. */
export interface ExportRequestState {
  dataset_id: string
  format: ExportFormat
  start_date: string | undefined
  end_date: string | undefined
  account_ids: string[]
  tag_ids: string[]
  compression: Compression
  parquet_compression: ParquetCompression
  /** The ticked columns, in the order they were ticked (the request lists them in the dataset's order). */
  columns: string[]
  limit: number | undefined
  csv: CsvOptions
}

const FIELD_LABELS: Record<string, string> = {
  format: 'Format', start_date: 'Start date', end_date: 'End date', account_ids: 'Accounts', tag_ids: 'Tags',
  compression: 'Compression', parquet_compression: 'Compression', columns: 'Columns', limit: 'Row limit', csv: 'CSV options'
}

function limitValid(limit: number | undefined) {
  return limit === undefined || (Number.isInteger(limit) && limit >= 1 && limit <= MAX_EXPORT_LIMIT)
}

/**
 * The export request the dialog describes: its fields, the request they make, the checks the
 * dialog can run without the server, and a live preview of the file (asked for while `preview`
 * is true and the request could be valid).
 */
export function useExportRequest(dataset: DatasetDTO, { preview: previewWanted = true }: { preview?: MaybeRefOrGetter<boolean> } = {}) {
  const allColumns = dataset.columns.map(c => c.name)

  const state: ExportRequestState = reactive({
    dataset_id: dataset.id,
    format: 'csv',
    start_date: undefined,
    end_date: undefined,
    account_ids: [],
    tag_ids: [],
    compression: 'none',
    parquet_compression: 'zstd',
    columns: [...allColumns],
    limit: undefined,
    csv: { ...DEFAULT_CSV_OPTIONS }
  })

  const compressible = computed(() => EXPORT_FORMATS[state.format].compressions.length > 1)
  const selectedColumns = computed(() => allColumns.filter(name => state.columns.includes(name)))

  /**
   * The request as it will be sent: a field the user left at its default is left out, so the
   * server applies the same default (and a plain export is the request it always was).
   */
  const request = computed<CreateExportInput>(() => {
    const body: CreateExportInput = { dataset_id: dataset.id, format: state.format }
    if (state.start_date) body.start_date = state.start_date
    if (state.end_date) body.end_date = state.end_date
    if (state.account_ids.length) body.account_ids = [...state.account_ids]
    if (state.tag_ids.length) body.tag_ids = [...state.tag_ids]
    if (compressible.value && state.compression !== 'none') body.compression = state.compression
    if (state.format === 'parquet' && state.parquet_compression !== 'zstd') body.parquet_compression = state.parquet_compression
    if (selectedColumns.value.length !== allColumns.length) body.columns = selectedColumns.value
    if (state.limit !== undefined) body.limit = state.limit
    if (state.format === 'csv' && (Object.keys(DEFAULT_CSV_OPTIONS) as (keyof CsvOptions)[]).some(k => state.csv[k] !== DEFAULT_CSV_OPTIONS[k])) body.csv = { ...state.csv }
    return body
  })

  const previewRequest = computed(() => {
    if (!toValue(previewWanted) || !selectedColumns.value.length || !limitValid(state.limit)) return null
    if (state.start_date && state.end_date && state.start_date > state.end_date) return null
    return request.value as Record<string, unknown>
  })
  const { preview, pending, errors, failure, unavailable } = useExportPreview(previewRequest)

  /** Rows the file will hold: the preview's count, cut at the row limit. */
  const expectedRows = computed(() => {
    if (!preview.value) return null
    return state.limit === undefined ? preview.value.row_count : Math.min(preview.value.row_count, state.limit)
  })
  const maxRows = computed(() => EXPORT_FORMATS[state.format].maxRows)
  const tooManyRows = computed(() => maxRows.value !== null && (expectedRows.value ?? 0) > maxRows.value)
  const tooManyRowsMessage = computed(() => `${EXPORT_FORMATS[state.format].label} holds at most ${formatCount(maxRows.value ?? 0)} rows; this export has ${formatCount(expectedRows.value ?? 0)}. Narrow the dates or filters, set a row limit, or choose CSV.`)

  /** Why there is no preview, in one line: the server's field errors or its failure. */
  const previewError = computed(() => failure.value ?? (errors.value.length
    ? errors.value.map((err: FieldError) => `${FIELD_LABELS[err.field.split('.')[0]!] ?? err.field}: ${err.message}`).join(' ')
    : null))

  /** Errors the dialog can tell without the server: the shared schema's checks and the file's row cap. */
  function validate(): FormError[] {
    const errors: FormError[] = []
    const parsed = CreateExportSchema.safeParse(request.value)
    if (!parsed.success) errors.push(...parsed.error.issues.map(issue => ({ name: String(issue.path[0] ?? 'format'), message: issue.message })))
    if (tooManyRows.value) errors.push({ name: 'format', message: `${EXPORT_FORMATS[state.format].label} holds at most ${formatCount(maxRows.value ?? 0)} rows` })
    return errors
  }

  return {
    state,
    allColumns,
    selectedColumns,
    compressible,
    request,
    validate,
    preview,
    previewPending: pending,
    previewErrors: errors,
    previewError,
    previewUnavailable: unavailable,
    expectedRows,
    tooManyRows,
    tooManyRowsMessage
  }
}
