import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { get_dmmf } from '@prisma/prisma-schema-wasm'
import pg from 'pg'

/**
 * Two views of the database structure in one canonical shape: what schema.prisma declares (read
 * through Prisma's own schema parser) and what a PostgreSQL database actually has (read from its
 * catalog). Equal shapes mean the migrations and the schema have not drifted apart.
 */

export interface Shape {
  enums: Record<string, string[]>
  tables: Record<string, {
    columns: Record<string, { type: string, nullable: boolean, default: string | null }>
    indexes: string[]
    foreignKeys: string[]
  }>
}

interface DmmfField {
  name: string
  dbName?: string | null
  kind: 'scalar' | 'enum' | 'object'
  isRequired: boolean
  isList: boolean
  type: string
  nativeType: [string, string[]] | null
  hasDefaultValue: boolean
  default?: { name: string, args: unknown[] } | string | number | boolean
  relationFromFields?: string[]
  relationToFields?: string[]
  relationOnDelete?: string
  relationOnUpdate?: string
}
interface DmmfModel { name: string, dbName: string | null, fields: DmmfField[] }
interface DmmfIndex { model: string, type: 'id' | 'unique' | 'normal', dbName?: string | null, fields: Array<{ name: string, sortOrder?: 'asc' | 'desc' }> }
interface Dmmf { enums: Array<{ name: string, dbName: string | null, values: Array<{ name: string, dbName: string | null }> }>, models: DmmfModel[], indexes: DmmfIndex[] }

const SCALAR_TYPES: Record<string, string> = {
  String: 'text', Int: 'integer', BigInt: 'bigint', Boolean: 'boolean', Json: 'jsonb', Float: 'double precision', DateTime: 'timestamp(3) without time zone'
}

const REFERENTIAL_ACTIONS: Record<string, string> = { Cascade: 'CASCADE', Restrict: 'RESTRICT', NoAction: 'NO ACTION', SetNull: 'SET NULL', SetDefault: 'SET DEFAULT' }

export function schemaShape(schemaPath = join(import.meta.dirname, '../../prisma/schema.prisma')): Shape {
  const dmmf: Dmmf = JSON.parse(get_dmmf(JSON.stringify({ prismaSchema: [['schema.prisma', readFileSync(schemaPath, 'utf8')]] }))).datamodel
  const enumDbName = new Map(dmmf.enums.map(e => [e.name, e.dbName ?? e.name]))
  const tableOf = new Map(dmmf.models.map(m => [m.name, m.dbName ?? m.name]))
  const columnOf = (model: DmmfModel, field: string) => {
    const f = model.fields.find(x => x.name === field)!
    return f.dbName ?? f.name
  }
  const shape: Shape = {
    enums: Object.fromEntries(dmmf.enums.map(e => [e.dbName ?? e.name, e.values.map(v => v.dbName ?? v.name)])),
    tables: {}
  }
  for (const model of dmmf.models) {
    const table = tableOf.get(model.name)!
    const columns: Shape['tables'][string]['columns'] = {}
    const foreignKeys: string[] = []
    for (const field of model.fields) {
      if (field.kind === 'object') {
        if (field.relationFromFields?.length) {
          const target = dmmf.models.find(m => m.name === field.type)!
          const from = field.relationFromFields.map(f => columnOf(model, f))
          const to = field.relationToFields!.map(f => columnOf(target, f))
          const onDelete = REFERENTIAL_ACTIONS[field.relationOnDelete ?? (field.isRequired ? 'Restrict' : 'SetNull')]
          const onUpdate = REFERENTIAL_ACTIONS[field.relationOnUpdate ?? 'Cascade']
          foreignKeys.push(`${table}_${from.join('_')}_fkey (${from}) -> ${tableOf.get(target.name)}(${to}) ON DELETE ${onDelete} ON UPDATE ${onUpdate}`)
        }
        continue
      }
      columns[field.dbName ?? field.name] = {
        type: columnType(field, enumDbName),
        nullable: !field.isRequired,
        default: columnDefault(field, enumDbName)
      }
    }
    const indexes = dmmf.indexes.filter(i => i.model === model.name).map((index) => {
      const cols = index.fields.map(f => columnOf(model, f.name))
      const suffix = { id: 'pkey', unique: 'key', normal: 'idx' }[index.type]
      const name = index.dbName ?? (index.type === 'id' ? `${table}_pkey` : `${table}_${cols.join('_')}_${suffix}`)
      return indexSignature(name, index.type, index.fields.map((f, i) => `${cols[i]}${f.sortOrder === 'desc' ? ' DESC' : ''}`))
    })
    shape.tables[table] = { columns, indexes: indexes.sort(), foreignKeys: foreignKeys.sort() }
  }
  return shape
}

function columnType(field: DmmfField, enumDbName: Map<string, string>): string {
  if (field.kind === 'enum') return enumDbName.get(field.type)!
  const [native, args] = field.nativeType ?? [undefined, []]
  let type = SCALAR_TYPES[field.type]!
  if (native === 'Uuid') type = 'uuid'
  else if (native === 'Timestamptz') type = `timestamp(${args[0] ?? 6}) with time zone`
  else if (native === 'Timestamp') type = `timestamp(${args[0] ?? 6}) without time zone`
  else if (native) throw new Error(`schema-shape: add a mapping for @db.${native}`)
  return field.isList ? `${type}[]` : type
}

function columnDefault(field: DmmfField, enumDbName: Map<string, string>): string | null {
  const d = field.default
  if (d === undefined) return null
  if (typeof d === 'object') {
    if (d.name === 'dbgenerated') return String(d.args[0])
    if (d.name === 'now') return 'CURRENT_TIMESTAMP'
    // uuid(), cuid() and autoincrement() are client-side or sequences: none in this schema.
    throw new Error(`schema-shape: add a mapping for @default(${d.name}())`)
  }
  if (field.kind === 'enum') return `'${d}'::${enumDbName.get(field.type)}`
  if (field.type === 'String' && typeof d === 'string') return `'${d.replaceAll('\'', '\'\'')}'::text`
  return String(d)
}

function indexSignature(name: string, type: string, columns: string[]) {
  return `${name} ${type === 'normal' ? 'INDEX' : type === 'id' ? 'PRIMARY KEY' : 'UNIQUE'} (${columns.join(', ')})`
}

export async function databaseShape(databaseUrl: string): Promise<Shape> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const enums = await client.query<{ name: string, values: string[] }>(`
      SELECT t.typname AS name, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text[] AS values
      FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname = 'public' GROUP BY t.typname`)
    const columns = await client.query<{ table: string, column: string, type: string, nullable: boolean, default: string | null }>(`
      SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
             NOT a.attnotnull AS nullable, pg_get_expr(d.adbin, d.adrelid) AS default
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND c.relname <> '_prisma_migrations'`)
    const indexes = await client.query<{ table: string, name: string, primary: boolean, unique: boolean, columns: string[] }>(`
      SELECT t.relname AS table, i.relname AS name, x.indisprimary AS primary, x.indisunique AS unique,
             array(SELECT pg_get_indexdef(x.indexrelid, k + 1, true) || CASE WHEN x.indoption[k] & 1 = 1 THEN ' DESC' ELSE '' END
                   FROM generate_subscripts(x.indkey, 1) AS k ORDER BY k)::text[] AS columns
      FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = 'public' AND t.relname <> '_prisma_migrations'`)
    const fks = await client.query<{ table: string, name: string, definition: string }>(`
      SELECT c.conrelid::regclass::text AS table, c.conname AS name, pg_get_constraintdef(c.oid) AS definition
      FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
      WHERE c.contype = 'f' AND n.nspname = 'public'`)

    const shape: Shape = { enums: Object.fromEntries(enums.rows.map(e => [e.name, e.values])), tables: {} }
    const table = (name: string) => (shape.tables[name] ??= { columns: {}, indexes: [], foreignKeys: [] })
    for (const c of columns.rows) {
      table(c.table).columns[c.column] = { type: c.type, nullable: c.nullable, default: c.default }
    }
    for (const i of indexes.rows) {
      const cols = i.columns.map(col => col.replace(/^"(.*)"/, '$1'))
      table(i.table).indexes.push(indexSignature(i.name, i.primary ? 'id' : i.unique ? 'unique' : 'normal', cols))
    }
    for (const fk of fks.rows) {
      // pg prints "FOREIGN KEY (user_id) REFERENCES users(id) ON UPDATE CASCADE ON DELETE CASCADE"
      // and leaves out NO ACTION, Postgres' default.
      const m = /^FOREIGN KEY \((.+)\) REFERENCES (\S+)\((.+)\)(.*)$/.exec(fk.definition)!
      const onDelete = /ON DELETE (CASCADE|RESTRICT|SET NULL|SET DEFAULT)/.exec(m[4]!)?.[1] ?? 'NO ACTION'
      const onUpdate = /ON UPDATE (CASCADE|RESTRICT|SET NULL|SET DEFAULT)/.exec(m[4]!)?.[1] ?? 'NO ACTION'
      const list = (s: string) => s.split(', ').join(',')
      table(fk.table.replace(/"/g, '')).foreignKeys.push(`${fk.name} (${list(m[1]!)}) -> ${m[2]}(${list(m[3]!)}) ON DELETE ${onDelete} ON UPDATE ${onUpdate}`)
    }
    for (const t of Object.values(shape.tables)) {
      t.indexes.sort()
      t.foreignKeys.sort()
    }
    return shape
  } finally {
    await client.end()
  }
}
