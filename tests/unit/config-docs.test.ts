import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { ConfigSchema, loadConfig } from '#server/lib/config'

/**
 * The configuration has one source, the schema in server/lib/config.ts; docs/configuration.md and
 * .env.example must name exactly its variables, and a default the docs state must be the schema's.
 */

const ROOT = join(import.meta.dirname, '../..')
// Read by Nuxt's runtime config (runtimeConfig.session.cookie.secure), not by the schema.
const OUTSIDE_SCHEMA = ['NUXT_SESSION_COOKIE_SECURE']

const schemaVariables = Object.keys(ConfigSchema.shape)
const expected = [...schemaVariables, ...OUTSIDE_SCHEMA].sort()

/** The tables' rows of docs/configuration.md by variable: `| \`A\`, \`B\` | default | meaning |`. */
function documented(): Map<string, string> {
  const rows = new Map<string, string>()
  for (const line of readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8').split('\n')) {
    const cells = line.split(' | ')
    if (!/^\| `[A-Z]/.test(line) || cells.length < 3) continue
    for (const [, name] of cells[0]!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) rows.set(name!, cells[1]!)
  }
  return rows
}

/** `NAME=value` lines of .env.example, commented out (`# NAME=value`) or not. */
function exampled(): Map<string, string> {
  const lines = readFileSync(join(ROOT, '.env.example'), 'utf8').split('\n')
  return new Map(lines.flatMap((line) => {
    const match = /^(?:# ?)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line)
    return match ? [[match[1]!, match[2]!] as const] : []
  }))
}

/** Every variable with a default in the schema, written as the docs write it. */
const defaults = Object.entries(ConfigSchema.shape).flatMap(([name, field]) => field instanceof z.ZodDefault
  ? [[name, String(field.def.defaultValue).replace(tmpdir(), '$TMPDIR')] as const]
  : [])

describe('docs/configuration.md', () => {
  it('describes every variable of the schema, and no other', () => {
    expect([...documented().keys()].sort(), 'add the variable to the table in docs/configuration.md (or remove one the schema no longer has)').toEqual(expected)
  })

  it.each(defaults)('states the schema\'s default of %s (%s)', (name, value) => {
    expect(documented().get(name), `docs/configuration.md: the default of ${name}`).toContain(`\`${value}\``)
  })
})

describe('.env.example', () => {
  it('lists every variable of the schema, and no other', () => {
    expect([...exampled().keys()].sort(), 'add the variable to .env.example (or remove one the schema no longer has)').toEqual(expected)
  })

  it.each(defaults)('shows %s empty or at its default (%s)', (name, value) => {
    expect(['', value], `.env.example: ${name}`).toContain(exampled().get(name) ?? '')
  })

  it('is a valid configuration as it stands', () => {
    expect(() => loadConfig(Object.fromEntries(exampled()))).not.toThrow()
  })
})
