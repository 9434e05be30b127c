import type { FormError } from '@nuxt/ui'
import type { MaybeRefOrGetter } from 'vue'
import type { FieldError } from '#shared/types/api'
import type { DatasetDTO } from '#shared/types/datasets'
import { CreateExportSchema, DEFAULT_CSV_OPTIONS, MAX_EXPORT_LIMIT, type CreateExportInput, type CsvOptions, type ExportJobDTO } from '#shared/types/exports'
import { EXPORT_FORMATS, type Compression, type ExportFormat, type ParquetCompression } from '#shared/types/formats'
import { checkRowFilters, columnKind, OP_ARITY, type RowFilter, type RowFilterOp } from '#shared/types/row-filters'
import type { DatePreset } from '~/utils/exportDates'

/** A condition as the dialog edits it: values as typed (one, low and high, or a list), until complete. */
export interface ConditionDraft {
  /** Stable across removals, for the list's keys and focus. */
  key: number
  column: string
  op: RowFilterOp
  values: string[]
}

/** The export dialog's fields: every one present, whatever the format. */
export interface ExportRequestState {
  dataset_id: string
  format: ExportFormat
  /** Which preset the dates come from (custom: typed in); a schedule makes it a relative range. */
  date_preset: DatePreset
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
  conditions: ConditionDraft[]
  /** Split into parts (empty: one file). */
  max_part_mb: number | undefined
  max_part_rows: number | undefined
  /** The user's destinations that also get the file (none: download only). */
  destination_ids: string[]
}

/** The file choices the dialog remembers per dataset, as the request names them. */
export type ExportFileOptions = Pick<CreateExportInput, 'format' | 'compression' | 'parquet_compression' | 'limit' | 'csv' | 'max_part_mb' | 'max_part_rows'>

const FIELD_LABELS: Record<string, string> = {
  format: 'Format', start_date: 'Start date', end_date: 'End date', account_ids: 'Accounts', tag_ids: 'Tags',
  compression: 'Compression', parquet_compression: 'Compression', columns: 'Columns', limit: 'Row limit', csv: 'CSV options',
  max_part_mb: 'Part size', max_part_rows: 'Rows per workbook', destination_ids: 'Destinations'
}

/** The condition as the API takes it, or null while a value it needs is still empty. */
function conditionFilter(draft: ConditionDraft, type: string | undefined): RowFilter | null {
  const arity = OP_ARITY[draft.op]
  const values = draft.values.map(v => v.trim())
  const typed = (v: string) => columnKind(type ?? '') === 'boolean' ? v === 'true' : v
  if (arity === 'none') return { column: draft.column, op: draft.op }
  if (arity === 'one') return values[0] ? { column: draft.column, op: draft.op, value: typed(values[0]) } : null
  if (arity === 'two') return values[0] && values[1] ? { column: draft.column, op: draft.op, value: [typed(values[0]), typed(values[1])] } : null
  const list = values.filter(Boolean)
  return list.length ? { column: draft.column, op: draft.op, value: list.map(typed) } : null
}

/** A condition the API holds, as the dialog edits it (negative keys: the field's own count up from 0). */
let loadedKey = 0
export function conditionDraft(filter: RowFilter): ConditionDraft {
  const value = filter.value as unknown
  const values = value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)]
  return { key: --loadedKey, column: filter.column, op: filter.op, values }
}

/** A condition with every value it needs, and where its draft is in the dialog's list. */
interface CompleteCondition { index: number, filter: RowFilter }

/** The form field of the condition at this index of the dialog's list. */
export function conditionField(index: number): string {
  return `row_filters[${index}]`
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
    date_preset: 'all',
    start_date: undefined,
    end_date: undefined,
    account_ids: [],
    tag_ids: [],
    compression: 'none',
    parquet_compression: 'zstd',
    columns: [...allColumns],
    limit: undefined,
    csv: { ...DEFAULT_CSV_OPTIONS },
    conditions: [],
    max_part_mb: undefined,
    max_part_rows: undefined,
    destination_ids: []
  })
  const columnTypes = new Map(dataset.columns.map(c => [c.name, c.type]))

  /** The complete conditions, each with the index of its draft (the request holds only these). */
  const conditions = computed<CompleteCondition[]>(() => state.conditions.flatMap((draft, index) => {
    const filter = conditionFilter(draft, columnTypes.get(draft.column))
    return filter ? [{ index, filter }] : []
  }))

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
    if (conditions.value.length) body.row_filters = conditions.value.map((c: CompleteCondition) => c.filter)
    if (state.max_part_mb !== undefined) body.max_part_mb = state.max_part_mb
    // Rows per part only where the dialog offers them (a format with a row cap: Excel).
    if (state.max_part_rows !== undefined && EXPORT_FORMATS[state.format].maxRows !== null) body.max_part_rows = state.max_part_rows
    if (state.destination_ids.length) body.destination_ids = [...state.destination_ids]
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
  // Split into workbooks by rows, each fits a sheet.
  const tooManyRows = computed(() => maxRows.value !== null && (expectedRows.value ?? 0) > maxRows.value && request.value.max_part_rows === undefined)
  const tooManyRowsMessage = computed(() => `${EXPORT_FORMATS[state.format].label} holds at most ${formatCount(maxRows.value ?? 0)} rows; this export has ${formatCount(expectedRows.value ?? 0)}. Set rows per workbook to split it, narrow the dates or filters, set a row limit, or choose CSV.`)

  /**
   * The form field a server error belongs to: "account_ids.0" to the accounts, "csv.delimiter" to
   * its own, "row_filters[1].op" to the condition it names (the request's second complete one).
   */
  function fieldName(field: string): string {
    const condition = /^row_filters\[(\d+)\]/.exec(field)
    if (condition) return conditionField(conditions.value[Number(condition[1])]?.index ?? Number(condition[1]))
    return field.startsWith('csv.') ? field : field.split('.')[0]!
  }
  function fieldLabel(field: string): string {
    const name = fieldName(field)
    const condition = /^row_filters\[(\d+)\]$/.exec(name)
    return condition ? `Condition ${Number(condition[1]) + 1}` : FIELD_LABELS[name] ?? field
  }

  /** Why there is no preview, in one line: the server's field errors or its failure. */
  const previewError = computed(() => failure.value ?? (errors.value.length
    ? errors.value.map((err: FieldError) => `${fieldLabel(err.field)}: ${err.message}`).join(' ')
    : null))

  /** Errors the dialog can tell without the server: the shared schema's checks and the file's row cap. */
  function validate(): FormError[] {
    const errors: FormError[] = []
    const parsed = CreateExportSchema.safeParse(request.value)
    if (!parsed.success) errors.push(...parsed.error.issues.filter(issue => issue.path[0] !== 'row_filters').map(issue => ({ name: String(issue.path[0] ?? 'format'), message: issue.message })))
    if (tooManyRows.value) errors.push({ name: 'format', message: `${EXPORT_FORMATS[state.format].label} holds at most ${formatCount(maxRows.value ?? 0)} rows; set rows per workbook to split it` })
    const complete = new Set(conditions.value.map((c: CompleteCondition) => c.index))
    state.conditions.forEach((_, index) => {
      if (!complete.has(index)) errors.push({ name: conditionField(index), message: 'Enter a value, or remove the condition' })
    })
    const checked = checkRowFilters(dataset.name, dataset.columns, conditions.value.map((c: CompleteCondition) => c.filter))
    errors.push(...checked.errors.map(err => ({ name: fieldName(err.field), message: err.message })))
    return errors
  }

  /** Every field from an earlier export's request ("change and export again", `?from=`). */
  function fillFromJob(job: ExportJobDTO) {
    const bounds = { start_date: job.filters.start_date ?? undefined, end_date: job.filters.end_date ?? undefined }
    Object.assign(state, {
      date_preset: matchPreset(bounds),
      ...bounds,
      account_ids: [...job.filters.account_ids],
      tag_ids: [...job.filters.tag_ids],
      conditions: (job.filters.row_filters ?? []).map(conditionDraft),
      columns: job.columns?.length ? allColumns.filter(name => job.columns!.includes(name)) : [...allColumns],
      destination_ids: job.deliveries.flatMap(d => d.destination_id ? [d.destination_id] : [])
    })
    applyFileOptions({
      format: job.format,
      compression: job.compression,
      parquet_compression: job.parquet_compression,
      limit: job.limit,
      csv: job.csv,
      max_part_mb: job.max_part_mb,
      max_part_rows: job.max_part_rows
    })
  }

  /**
   * The choices about the file (not the data), as the request names them, each only where the
   * format has it (so the request schema takes them back): what the dialog remembers per dataset.
   */
  const fileOptions = computed<ExportFileOptions>(() => ({
    format: state.format,
    compression: compressible.value ? state.compression : null,
    parquet_compression: state.format === 'parquet' ? state.parquet_compression : null,
    limit: state.limit ?? null,
    csv: state.format === 'csv' ? { ...state.csv } : null,
    max_part_mb: state.max_part_mb ?? null,
    max_part_rows: EXPORT_FORMATS[state.format].maxRows !== null ? state.max_part_rows ?? null : null
  }))

  /** Sets the file choices; ones the request schema refuses (a stale or edited store) are ignored. */
  function applyFileOptions(options: Partial<ExportFileOptions>) {
    if (!CreateExportSchema.safeParse({ ...options, dataset_id: dataset.id }).success) return
    Object.assign(state, {
      format: options.format,
      compression: options.compression ?? 'none',
      parquet_compression: options.parquet_compression ?? 'zstd',
      limit: options.limit ?? undefined,
      csv: { ...DEFAULT_CSV_OPTIONS, ...options.csv },
      max_part_mb: options.max_part_mb ?? undefined,
      max_part_rows: options.max_part_rows ?? undefined
    })
  }

  return {
    state,
    fillFromJob,
    fileOptions,
    applyFileOptions,
    fieldName,
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
