import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildWarehouse, planDemo } from '#server/lib/warehouse/demo'
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
