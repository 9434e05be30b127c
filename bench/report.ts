import { execFileSync } from 'node:child_process'

/** The benchmarks' output: one table of figures with their targets, printed at the end. */
interface Row { figure: string, value: string, target: string, verdict: string }
const table: Row[] = []

/** A figure, also shown at once on stderr; `pass` undefined: no target. */
export function record(figure: string, value: string, target = '', pass?: boolean) {
  table.push({ figure, value, target, verdict: pass === undefined ? '' : pass ? 'pass' : 'MISS' })
  console.error(`  ${figure}: ${value}${target ? ` (target ${target})` : ''}`)
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

/** The recorded figures as a Markdown table on stdout. */
export function printTable() {
  const widths = [0, 1, 2, 3].map(i => Math.max(...table.map(r => Object.values(r)[i]!.length), 6))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  console.log(line(['figure', 'value', 'target', 'result']))
  console.log(`|${widths.map(w => '-'.repeat(w + 2)).join('|')}|`)
  for (const r of table) console.log(line([r.figure, r.value, r.target, r.verdict]))
}

export function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD']).toString().trim()
  } catch {
    return 'unknown'
  }
}
