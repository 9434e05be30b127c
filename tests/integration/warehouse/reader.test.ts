import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DATASETS } from '#server/lib/warehouse/datasets'
import { buildWarehouse, planDemo } from '#server/lib/warehouse/demo'
import { buildDatasetQuery } from '#server/lib/warehouse/query'
import { removeStaleSpillDirs, WarehouseReader } from '#server/lib/warehouse/reader'

describe('WarehouseReader spill folders', () => {
  let dir: string
  let path: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'outport-reader-'))
    path = join(dir, 'warehouse.duckdb')
    await buildWarehouse(path, planDemo({ users: 1, transactions: 1000, seed: 1 }), 1)
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('gives each DuckDB instance a folder of its own, named for this process, and removes it on close', async () => {
    const spillRoot = join(dir, 'spill')
    const folders: string[] = []
    for (let i = 0; i < 2; i++) {
      const reader = new WarehouseReader(path, { spillRoot })
      const connection = await reader.connect()
      folders.push((await connection.runAndReadAll('SELECT current_setting(\'temp_directory\') AS t')).getRowObjectsJson()[0]!.t as string)
      connection.closeSync()
      expect(await readdir(spillRoot)).toEqual([folders[i]!.slice(spillRoot.length + 1)])
      await reader.close()
      expect(await readdir(spillRoot)).toEqual([])
    }
    expect(new Set(folders).size).toBe(2)
    for (const folder of folders) expect(folder).toMatch(new RegExp(`^${spillRoot}/${process.pid}-[0-9a-f]{8}$`))
  })

  it('removes folders of processes that are gone (and of an earlier process with this pid), never a live one\'s', async () => {
    const spillRoot = join(dir, 'stale')
    // A pid that certainly belonged to a process that has exited.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString()
    const names = [`${dead}-0a1b2c3d`, `${process.pid}-0a1b2c3d`, `${process.ppid}-0a1b2c3d`, 'not-a-spill-folder']
    for (const name of names) await mkdir(join(spillRoot, name), { recursive: true })
    expect((await removeStaleSpillDirs(spillRoot)).sort()).toEqual([`${dead}-0a1b2c3d`, `${process.pid}-0a1b2c3d`].sort())
    expect((await readdir(spillRoot)).sort()).toEqual([`${process.ppid}-0a1b2c3d`, 'not-a-spill-folder'].sort())
    // A reader cleans up at its first open.
    await mkdir(join(spillRoot, `${dead}-deadbeef`))
    const reader = new WarehouseReader(path, { spillRoot })
    ;(await reader.connect()).closeSync()
    expect(await readdir(spillRoot)).not.toContain(`${dead}-deadbeef`)
    await reader.close()
  })
})

describe('WarehouseReader.releaseCache', () => {
  let dir: string
  let path: string
  const [user] = planDemo({ users: 1, transactions: 300_000, seed: 2 })

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'outport-reader-cache-'))
    path = join(dir, 'warehouse.duckdb')
    await buildWarehouse(path, [user!], 2)
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('evicts the blocks DuckDB kept after a query, keeps the memory limit, and the next query reads the same', async () => {
    const reader = new WarehouseReader(path, { memoryLimit: '192MB' })
    const connection = await reader.connect()
    // An export's query: its rows (joined and sorted) written out, then summed from the file.
    const file = join(dir, 'rows.csv')
    const read = async () => {
      await connection.run(`COPY (${buildDatasetQuery(DATASETS[0]!, user!.user_id)}) TO '${file}' (FORMAT csv)`)
      return (await connection.runAndReadAll(`SELECT count(*)::VARCHAR AS n, sum(CAST(amount AS DECIMAL(18, 2)))::VARCHAR AS total FROM read_csv('${file}')`)).getRowObjectsJson()[0]
    }
    const limit = async () => (await connection.runAndReadAll('SELECT current_setting(\'memory_limit\') AS m')).getRowObjectsJson()[0]!.m
    try {
      const before = await limit()
      const first = await read()
      const cached = (await reader.memoryBytes())!
      await reader.releaseCache()
      const released = (await reader.memoryBytes())!
      console.info(`DuckDB held ${(cached / 2 ** 20).toFixed(1)} MiB after the query, ${(released / 2 ** 20).toFixed(1)} MiB after releaseCache`)
      expect(cached).toBeGreaterThan(12 * 2 ** 20)
      expect(released).toBeLessThanOrEqual(8 * 2 ** 20)
      expect(await limit()).toBe(before)
      expect(await read()).toEqual(first)
    } finally {
      connection.closeSync()
      await reader.close()
    }
  })

  it('does nothing before the warehouse is open', async () => {
    const reader = new WarehouseReader(path)
    await reader.releaseCache()
    expect(await reader.memoryBytes()).toBeUndefined()
    await reader.close()
  })
})
