import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openWarehouse, queryRows } from '#server/lib/warehouse/duckdb'
import { openTinyWarehouse, type TinyWarehouse } from './fixture'

let wh: TinyWarehouse

beforeAll(async () => {
  wh = await openTinyWarehouse()
})

afterAll(async () => {
  await wh?.close()
})

describe('openWarehouse', () => {
  it('opens read-only by default', async () => {
    await expect(wh.connection.run('CREATE TABLE x (a INTEGER)')).rejects.toThrow(/read-only/i)
    await expect(wh.connection.run('DELETE FROM transactions')).rejects.toThrow(/read-only/i)
  })

  it('does not create a missing file when read-only', async () => {
    await expect(openWarehouse(join(wh.dir, 'missing.duckdb'))).rejects.toThrow()
  })

  it('applies threads and memory limit, and turns off extension autoloading', async () => {
    const instance = await openWarehouse(wh.path, { threads: 1, memoryLimit: '256MB' })
    const connection = await instance.connect()
    try {
      const [row] = await queryRows(connection, `SELECT
        current_setting('threads') AS threads,
        current_setting('memory_limit') AS memory_limit,
        current_setting('access_mode') AS access_mode,
        current_setting('autoinstall_known_extensions') AS autoinstall,
        current_setting('autoload_known_extensions') AS autoload`)
      expect(row).toEqual({ threads: '1', memory_limit: expect.stringMatching(/^2\d\d\.\d+ MiB$/), access_mode: 'read_only', autoinstall: false, autoload: false })
    } finally {
      connection.closeSync()
      instance.closeSync()
    }
  })

  it('rejects a nonsensical thread count', async () => {
    await expect(openWarehouse(wh.path, { threads: 0 })).rejects.toThrow(RangeError)
  })
})

describe('queryRows', () => {
  it('returns JSON-safe values: big integers, decimals and dates as strings', async () => {
    const rows = await queryRows(wh.connection, `SELECT
      42::INTEGER AS i, 9007199254740993::BIGINT AS big, 12.30::DECIMAL(18,2) AS dec, DATE '2024-02-29' AS d,
      'c0000000-0000-4000-8000-000000000001'::UUID AS u, ['x', NULL]::VARCHAR[] AS l, NULL AS n`)
    expect(rows).toEqual([{ i: 42, big: '9007199254740993', dec: '12.30', d: '2024-02-29', u: 'c0000000-0000-4000-8000-000000000001', l: ['x', null], n: null }])
    expect(JSON.parse(JSON.stringify(rows))).toEqual(rows)
  })
})
