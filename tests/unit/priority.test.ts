import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

// In a process of its own: niceness cannot be lowered back without privileges, so this one's
// threads are left alone.
const PROBE = join(import.meta.dirname, '../fixtures/thread-priority.ts')

interface Report { main: number, kept: number, changed: number, nice: Record<string, number> }

describe.runIf(process.platform === 'linux')('lowerOtherThreads', () => {
  it('lowers every thread of the process but the kept ones (the main thread and a worker thread)', () => {
    const report = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', PROBE], { encoding: 'utf8' })) as Report
    const others = Object.entries(report.nice).filter(([tid]) => Number(tid) !== report.main && Number(tid) !== report.kept)
    expect(report.nice[report.main]).toBe(0)
    expect(report.nice[report.kept]).toBe(0)
    // Node always runs V8 and libuv helper threads besides the two kept.
    expect(others.length).toBeGreaterThan(2)
    expect(report.changed).toBe(others.length)
    for (const [, nice] of others) expect(nice).toBe(7)
  })
})
