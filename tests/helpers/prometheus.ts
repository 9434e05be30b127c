/**
 * A strict reader of the Prometheus text exposition format (0.0.4), for asserting what /metrics
 * serves: every line must be a `# HELP`, a `# TYPE` or a well-formed sample of a declared family,
 * or parsing throws with the line.
 */
export interface Sample { name: string, labels: Record<string, string>, value: number }
export interface Family { name: string, type: string, help?: string, samples: Sample[] }

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const LABEL = String.raw`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"`
const SAMPLE = new RegExp(String.raw`^(${NAME})(?:\{((?:${LABEL})(?:,${LABEL})*,?)?\})? (\S+)(?: -?\d+)?$`)
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])
const SUFFIXES = ['_bucket', '_sum', '_count', '_total', '_created']

export function parsePrometheus(text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string]
      if (!new RegExp(`^${NAME}$`).test(name)) throw new Error(`bad metric name: ${line}`)
      const family = families.get(name) ?? { name, type: 'untyped', samples: [] }
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`bad type: ${line}`)
        family.type = rest
      } else {
        family.help = rest
      }
      families.set(name, family)
      continue
    }
    if (line.startsWith('#')) continue
    const match = SAMPLE.exec(line)
    if (!match) throw new Error(`malformed sample: ${JSON.stringify(line)}`)
    const name = match[1]!
    const labels: Record<string, string> = {}
    for (const [, key, value] of (match[2] ?? '').matchAll(new RegExp(LABEL, 'g'))) labels[key!] = value!.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1')
    const raw = match.at(-1)!
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : raw === 'NaN' ? Number.NaN : Number(raw)
    if (Number.isNaN(value) && raw !== 'NaN') throw new Error(`bad value: ${line}`)
    const family = families.get(name) ?? families.get(SUFFIXES.reduce((n, s) => n.endsWith(s) ? n.slice(0, -s.length) : n, name))
    if (!family) throw new Error(`sample of an undeclared family: ${line}`)
    family.samples.push({ name, labels, value })
  }
  return families
}

/** The value of one sample (exact name and labels), or undefined. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (sample.name !== name) continue
      const keys = Object.keys(labels)
      if (keys.every(k => sample.labels[k] === labels[k]) && Object.keys(sample.labels).length === keys.length) return sample.value
    }
  }
  return undefined
}

/** The sum over the samples with this name whose labels include `labels`. */
export function sampleSum(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (sample.name === name && Object.entries(labels).every(([k, v]) => sample.labels[k] === v)) sum += sample.value
    }
  }
  return sum
}
