import { z } from 'zod'
import { CSV_DELIMITERS, DEFAULT_CSV_OPTIONS } from './exports'
import { COMPRESSIONS, EXPORT_FORMAT_IDS, EXPORT_FORMATS, fileContentType, fileExtension, PARQUET_CODECS, PARQUET_COMPRESSIONS, type ExportFormat } from './formats'

/**
 * The format registry as data (GET /api/analytics/formats), so a client can build its export form
 * from it: every value here is read from EXPORT_FORMATS, COMPRESSIONS and PARQUET_CODECS.
 */

const ChoiceSchema = z.object({ id: z.string(), label: z.string(), description: z.string() })

export const FormatTableSchema = z.object({
  formats: z.array(z.object({
    id: z.enum(EXPORT_FORMAT_IDS),
    label: z.string(),
    description: z.string(),
    extension: z.string().meta({ description: 'Without compression, e.g. `csv`' }),
    content_type: z.string().meta({ description: 'Of the uncompressed file' }),
    compressions: z.array(ChoiceSchema.extend({
      extension: z.string().meta({ description: 'The file\'s extension with this compression, e.g. `csv.gz`' }),
      content_type: z.string()
    })).meta({ description: 'Whole-file compressions (`compression`); the first is the default' }),
    parquet_compressions: z.array(ChoiceSchema).meta({ description: 'Parquet\'s own codecs (`parquet_compression`); the first is the default; empty for other formats' }),
    csv_options: z.object({
      delimiter: z.object({ choices: z.array(z.enum(CSV_DELIMITERS)), default: z.enum(CSV_DELIMITERS) }),
      header: z.object({ default: z.boolean() }),
      bom: z.object({ default: z.boolean() }),
      formula_guard: z.object({ default: z.boolean() })
    }).nullable().meta({ description: 'The `csv` options with their defaults; null for other formats' }),
    max_rows: z.int().nullable().meta({ description: 'Data rows one file holds (Excel: one sheet); null: no limit' })
  }))
}).meta({ id: 'FormatTable' })

export type FormatTableDTO = z.infer<typeof FormatTableSchema>

export function formatTable(): FormatTableDTO {
  return { formats: EXPORT_FORMAT_IDS.map(formatRow) }
}

function formatRow(id: ExportFormat): FormatTableDTO['formats'][number] {
  const info = EXPORT_FORMATS[id]
  return {
    id,
    label: info.label,
    description: info.description,
    extension: info.extension,
    content_type: info.contentType,
    compressions: info.compressions.map(c => ({
      id: c,
      label: COMPRESSIONS[c].label,
      description: COMPRESSIONS[c].description,
      extension: fileExtension(id, c),
      content_type: fileContentType(id, c)
    })),
    parquet_compressions: id === 'parquet' ? PARQUET_COMPRESSIONS.map(c => ({ id: c, label: PARQUET_CODECS[c].label, description: PARQUET_CODECS[c].description })) : [],
    csv_options: id === 'csv'
      ? {
          delimiter: { choices: [...CSV_DELIMITERS], default: DEFAULT_CSV_OPTIONS.delimiter },
          header: { default: DEFAULT_CSV_OPTIONS.header },
          bom: { default: DEFAULT_CSV_OPTIONS.bom },
          formula_guard: { default: DEFAULT_CSV_OPTIONS.formula_guard }
        }
      : null,
    max_rows: info.maxRows
  }
}
