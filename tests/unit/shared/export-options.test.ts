import { describe, expect, it } from 'vitest'
import { requestHash } from '#server/lib/exports/jobs/submit'
import { fieldErrors } from '#server/lib/validation'
import { CreateExportSchema, estimatePartCount, partLimits, resolveExportOptions, type ExportMetadata } from '#shared/types/exports'
import { EXPORT_FORMATS, EXPORT_FORMAT_IDS, fileContentType, fileExtension, formatLabel } from '#shared/types/formats'

const DATASET = '054f17bf-1dbb-43ed-98c3-b4858093d7fc'
const fields = (body: object) => {
  const result = CreateExportSchema.safeParse({ dataset_id: DATASET, ...body })
  return result.success ? [] : fieldErrors(result.error).map(e => e.field)
}

describe('CreateExportSchema: the options', () => {
  it('accepts today\'s requests unchanged, and every new field is optional', () => {
    for (const format of EXPORT_FORMAT_IDS) expect(fields({ format })).toEqual([])
    expect(fields({ format: 'csv', compression: null, columns: null, limit: null, csv: null })).toEqual([])
  })

  it('allows the compressions each format\'s registry row lists, and names the field otherwise', () => {
    for (const format of EXPORT_FORMAT_IDS) {
      for (const compression of ['none', 'gzip', 'zstd']) {
        const allowed = (EXPORT_FORMATS[format].compressions as readonly string[]).includes(compression)
        expect(fields({ format, compression }), `${format} ${compression}`).toEqual(allowed ? [] : ['compression'])
      }
    }
    expect(fields({ format: 'csv', compression: 'gzip' })).toEqual([])
    expect(fields({ format: 'parquet', compression: 'zstd' })).toEqual(['compression'])
    expect(fields({ format: 'csv', compression: 'brotli' })).toEqual(['compression'])
  })

  it('parquet_compression is for Parquet only, csv options for CSV only', () => {
    expect(fields({ format: 'parquet', parquet_compression: 'snappy' })).toEqual([])
    expect(fields({ format: 'csv', parquet_compression: 'snappy' })).toEqual(['parquet_compression'])
    expect(fields({ format: 'parquet', parquet_compression: 'lzo' })).toEqual(['parquet_compression'])
    expect(fields({ format: 'jsonl', csv: { bom: true } })).toEqual(['csv'])
    expect(fields({ format: 'csv', csv: { delimiter: '\t', header: false, bom: true, formula_guard: false } })).toEqual([])
    expect(fields({ format: 'csv', csv: { delimiter: ',,' } })).toEqual(['csv.delimiter'])
    expect(fields({ format: 'csv', csv: { header: 'yes' } })).toEqual(['csv.header'])
    expect(fields({ format: 'csv', csv: { quote: '\'' } })).toEqual(['csv.quote'])
  })

  it('limit is a whole number from 1 to 100,000,000; columns a non-empty list without repeats', () => {
    expect(fields({ format: 'csv', limit: 1 })).toEqual([])
    expect(fields({ format: 'csv', limit: 100_000_000 })).toEqual([])
    for (const limit of [0, -5, 1.5, 100_000_001, '10']) expect(fields({ format: 'csv', limit })).toEqual(['limit'])
    expect(fields({ format: 'csv', columns: ['a', 'b'] })).toEqual([])
    expect(fields({ format: 'csv', columns: [] })).toEqual(['columns'])
    expect(fields({ format: 'csv', columns: ['a', 'b', 'a'] })).toEqual(['columns'])
  })
})

describe('resolveExportOptions', () => {
  it('fills in today\'s behaviour', () => {
    expect(resolveExportOptions({ format: 'csv' })).toEqual({
      compression: 'none', columns: null, limit: null,
      csv: { delimiter: ',', header: true, bom: false, formula_guard: true }, parquet_compression: null
    })
    expect(resolveExportOptions({ format: 'parquet' })).toMatchObject({ csv: null, parquet_compression: 'zstd' })
    expect(resolveExportOptions({ format: 'csv', csv: { bom: true } }).csv).toEqual({ delimiter: ',', header: true, bom: true, formula_guard: true })
  })
})

describe('requestHash', () => {
  const base: ExportMetadata = { dataset_id: DATASET, dataset_name: 'fct_transactions', format: 'csv', filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] } }

  it('is unchanged for requests without options and for options spelled out at their defaults', () => {
    // The hash of a request from before the options existed (what replays within the window compare with).
    expect(requestHash(base)).toBe(requestHash({ ...base, ...resolveExportOptions({ format: 'csv' }) }))
    expect(requestHash({ ...base, csv: { delimiter: ',', header: true, bom: false, formula_guard: true } })).toBe(requestHash(base))
  })

  it('differs for each option that changes the file', () => {
    const hashes = [
      requestHash(base),
      requestHash({ ...base, compression: 'gzip' }),
      requestHash({ ...base, columns: ['merchant'] }),
      requestHash({ ...base, columns: ['amount', 'merchant'] }),
      requestHash({ ...base, columns: ['merchant', 'amount'] }),
      requestHash({ ...base, limit: 10 }),
      requestHash({ ...base, csv: { delimiter: ';', header: true, bom: false, formula_guard: true } }),
      requestHash({ ...base, csv: { delimiter: ',', header: true, bom: false, formula_guard: false } }),
      requestHash({ ...base, format: 'parquet', parquet_compression: 'snappy' }),
      requestHash({ ...base, format: 'parquet' })
    ]
    expect(new Set(hashes).size).toBe(hashes.length)
  })
})

describe('the format registry', () => {
  it('gives extensions, content types and labels per format and compression', () => {
    expect(fileExtension('csv', 'gzip')).toBe('csv.gz')
    expect(fileExtension('jsonl', 'zstd')).toBe('jsonl.zst')
    expect(fileExtension('xlsx')).toBe('xlsx')
    expect(fileContentType('jsonl')).toBe('application/x-ndjson')
    expect(fileContentType('json')).toBe('application/json')
    expect(fileContentType('csv', 'gzip')).toBe('application/gzip')
    expect(fileContentType('json', 'zstd')).toBe('application/zstd')
    expect(fileContentType('xlsx')).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
    expect(formatLabel('xlsx')).toBe('Excel')
    expect(formatLabel('csv', 'gzip')).toBe('CSV (gzip)')
    expect(formatLabel('parquet')).toBe('Parquet')
  })
})

describe('CreateExportSchema: parts', () => {
  it('takes max_part_mb from 8 to 5,000 and max_part_rows from 10,000, naming the field otherwise', () => {
    expect(fields({ format: 'csv', max_part_mb: 8, max_part_rows: 10_000 })).toEqual([])
    expect(fields({ format: 'parquet', max_part_mb: 5000 })).toEqual([])
    expect(fields({ format: 'csv', max_part_mb: 7 })).toEqual(['max_part_mb'])
    expect(fields({ format: 'csv', max_part_mb: 5001 })).toEqual(['max_part_mb'])
    expect(fields({ format: 'csv', max_part_mb: 8.5 })).toEqual(['max_part_mb'])
    expect(fields({ format: 'csv', max_part_rows: 9_999 })).toEqual(['max_part_rows'])
  })

  it('holds Excel\'s rows per workbook within one sheet', () => {
    expect(fields({ format: 'xlsx', max_part_rows: 1_048_575 })).toEqual([])
    expect(fields({ format: 'xlsx', max_part_rows: 1_048_576 })).toEqual(['max_part_rows'])
  })

  it('estimates the number of parts from the rows and the bytes, whichever needs more', () => {
    expect(estimatePartCount(35_000, 1000, partLimits({ max_part_rows: 10_000 }))).toBe(4)
    expect(estimatePartCount(10, 3 * 1024 * 1024 * 1024, partLimits({ max_part_mb: 1024 }))).toBe(4)
    expect(estimatePartCount(10, 100, partLimits({}))).toBe(1)
    expect(estimatePartCount(0, 0, partLimits({ max_part_mb: 8 }))).toBe(1)
  })
})
