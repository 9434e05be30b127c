import type { DuckDBConnection } from '@duckdb/node-api'

/** The base tables every dataset reads; the query builder shadows exactly these names. */
export const BASE_TABLES = ['transactions', 'accounts', 'tags'] as const
export type BaseTable = typeof BASE_TABLES[number]

// accounts and tags are tiny, so a primary key costs nothing and lets datasets join on the id
// without duplicating rows. transactions has none: an index over millions of rows would slow the
// bulk build and no query needs it.
export const BASE_TABLES_SQL = `
CREATE TABLE accounts (
  account_id UUID PRIMARY KEY,
  user_id UUID NOT NULL,
  name VARCHAR NOT NULL,
  currency VARCHAR NOT NULL
);
CREATE TABLE tags (
  tag_id UUID PRIMARY KEY,
  user_id UUID NOT NULL,
  name VARCHAR NOT NULL
);
CREATE TABLE transactions (
  transaction_id UUID NOT NULL,
  user_id UUID NOT NULL,
  account_id UUID NOT NULL,
  transaction_date DATE NOT NULL,
  -- Signed major units: negative is spending, positive is income.
  amount DECIMAL(18,2) NOT NULL,
  currency VARCHAR NOT NULL,
  merchant VARCHAR,
  description VARCHAR,
  tag_ids UUID[] NOT NULL,
  -- When the row arrived in the warehouse (not when it happened): incremental schedules export
  -- by it. Loads are expected to stamp it with their own clock, so later loads carry later times.
  loaded_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
`

export async function createBaseTables(connection: DuckDBConnection): Promise<void> {
  await connection.run(BASE_TABLES_SQL)
}
