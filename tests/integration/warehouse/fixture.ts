import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api'
import { openWarehouse } from '#server/lib/warehouse/duckdb'
import { createBaseTables } from '#server/lib/warehouse/schema'

/**
 * A tiny hand-made warehouse with two users. Expected results in the tests are worked out by hand
 * from these rows, so keep the two in step when changing either.
 */
export const USER_A = '1111aaaa-1111-4111-8111-11111111111a'
export const USER_B = '2222bbbb-2222-4222-8222-22222222222b'

export const ACC_A1 = 'a1a1a1a1-0000-4000-8000-000000000001'
export const ACC_A2 = 'a2a2a2a2-0000-4000-8000-000000000002'
export const ACC_B1 = 'b1b1b1b1-0000-4000-8000-000000000001'

export const TAG_GROCERIES = 'c0000000-0000-4000-8000-000000000001'
export const TAG_RENT = 'c0000000-0000-4000-8000-000000000002'
export const TAG_SALARY = 'c0000000-0000-4000-8000-000000000003'
export const TAG_B = 'c0000000-0000-4000-8000-0000000000bb'

/** Transaction id `a…NN` / `b…NN`: ids sort in the order rows are listed within a date. */
export const txA = (n: number) => `a0000000-0000-4000-8000-0000000000${String(n).padStart(2, '0')}`
export const txB = (n: number) => `b0000000-0000-4000-8000-0000000000${String(n).padStart(2, '0')}`

const SQL = `
INSERT INTO accounts VALUES
  ('${ACC_A1}', '${USER_A}', 'Current', 'GBP'),
  ('${ACC_A2}', '${USER_A}', 'Joint "House"', 'EUR'),
  ('${ACC_B1}', '${USER_B}', 'B secret account', 'GBP');
INSERT INTO tags VALUES
  ('${TAG_GROCERIES}', '${USER_A}', 'Groceries'),
  ('${TAG_RENT}', '${USER_A}', 'Rent'),
  ('${TAG_SALARY}', '${USER_A}', 'Salary'),
  ('${TAG_B}', '${USER_B}', 'B secret tag');
INSERT INTO transactions (transaction_id, user_id, account_id, transaction_date, amount, currency, merchant, description, tag_ids) VALUES
  ('${txA(1)}', '${USER_A}', '${ACC_A1}', '2024-01-01', -10.00, 'GBP', 'Tesco', 'weekly shop', ['${TAG_GROCERIES}']),
  ('${txA(2)}', '${USER_A}', '${ACC_A1}', '2024-01-01', -5.50, 'GBP', 'Müller, Ltd', NULL, ['${TAG_GROCERIES}', '${TAG_RENT}']),
  ('${txA(3)}', '${USER_A}', '${ACC_A2}', '2024-01-01', 100.00, 'EUR', 'Employer', 'pay', ['${TAG_SALARY}']),
  ('${txA(4)}', '${USER_A}', '${ACC_A1}', '2024-01-15', -20.25, 'GBP', 'Shell', NULL, []),
  ('${txA(5)}', '${USER_A}', '${ACC_A2}', '2024-01-31', -3.75, 'EUR', '=cmd', NULL, ['${TAG_RENT}', '${TAG_GROCERIES}']),
  ('${txA(6)}', '${USER_A}', '${ACC_A1}', '2024-02-01', 2000.00, 'GBP', 'Employer', 'salary', ['${TAG_SALARY}']),
  ('${txA(7)}', '${USER_A}', '${ACC_A1}', '2024-02-01', -7.00, 'GBP', 'Café Nero', NULL, ['${TAG_GROCERIES}']),
  ('${txA(8)}', '${USER_A}', '${ACC_A2}', '2024-02-29', -100.00, 'EUR', 'Landlord', 'rent', ['${TAG_RENT}']),
  -- The same tag twice: must count once in the per-tag dataset.
  ('${txA(9)}', '${USER_A}', '${ACC_A1}', '2024-03-01', -1.25, 'GBP', 'Tesco', NULL, ['${TAG_GROCERIES}', '${TAG_GROCERIES}']),
  ('${txA(10)}', '${USER_A}', '${ACC_A1}', '2024-03-01', 50.00, 'GBP', 'Tesco', 'refund', ['${TAG_GROCERIES}']),
  -- Carries user B's tag id: A must never see B's tag name.
  ('${txA(11)}', '${USER_A}', '${ACC_A2}', '2024-03-02', -0.01, 'EUR', 'Odd', NULL, ['${TAG_B}']),
  ('${txA(12)}', '${USER_A}', '${ACC_A1}', '2024-03-31', -30.00, 'GBP', 'Tesco', NULL, ['${TAG_GROCERIES}', '${TAG_SALARY}']),
  ('${txB(1)}', '${USER_B}', '${ACC_B1}', '2024-01-01', -999.00, 'GBP', 'B shop', NULL, ['${TAG_B}']),
  ('${txB(2)}', '${USER_B}', '${ACC_B1}', '2024-02-01', 5000.00, 'GBP', 'B employer', NULL, ['${TAG_B}']),
  ('${txB(3)}', '${USER_B}', '${ACC_B1}', '2024-03-01', -1.00, 'GBP', 'B shop', NULL, []);
`

export interface TinyWarehouse {
  dir: string
  path: string
  instance: DuckDBInstance
  connection: DuckDBConnection
  close: () => Promise<void>
}

/** Builds the tiny warehouse in a temp dir and reopens it read-only, as the app does. */
export async function openTinyWarehouse(): Promise<TinyWarehouse> {
  const dir = await mkdtemp(join(tmpdir(), 'outport-wh-'))
  const path = join(dir, 'tiny.duckdb')
  const writer = await openWarehouse(path, { readOnly: false })
  const w = await writer.connect()
  await createBaseTables(w)
  await w.run(SQL)
  await w.run('CHECKPOINT')
  w.closeSync()
  writer.closeSync()

  const instance = await openWarehouse(path, { threads: 1 })
  const connection = await instance.connect()
  return {
    dir,
    path,
    instance,
    connection,
    close: async () => {
      connection.closeSync()
      instance.closeSync()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

export async function tempDir(): Promise<{ dir: string, cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'outport-wh-'))
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) }
}
