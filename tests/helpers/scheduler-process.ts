import { createDb } from '#server/lib/db/client'
import { runDueSchedules } from '#server/lib/schedules/scheduler'

/**
 * One scheduler process for the concurrency test: runs passes at the clock given in OUTPORT_NOW
 * until nothing is due, and prints the ids of the jobs it created as JSON.
 */
const db = createDb(process.env.DATABASE_URL!, { max: 2 })
const now = new Date(process.env.OUTPORT_NOW!)
const created: string[] = []
const limits = { EXPORT_MAX_RANGE_DAYS: undefined, SCHEDULES_DISABLE_AFTER_FAILURES: 5 }
for (let pass = 0; pass < 3; pass++) {
  const result = await runDueSchedules(db, { now, limits, batchSize: Number(process.env.OUTPORT_BATCH ?? 10) })
  created.push(...result.created.map(j => j.id))
}
await db.$disconnect()
process.stdout.write(JSON.stringify(created))
