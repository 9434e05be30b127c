import { HISTOGRAM_GRAINS, type HistogramGrain } from '#shared/types/exports'

/** About as many bars as a phone-width chart can show apart. */
export const MAX_BARS = 60

export interface DayCount { day: string, rows: number }

export interface Histogram {
  grain: HistogramGrain
  buckets: { bucket: string, rows: number }[]
}

/**
 * Rows per day, week (from Monday), month, quarter or year: the finest grain (no finer than the
 * dataset's own) that covers the range in at most MAX_BARS buckets. The range is the request's
 * dates where given, else the first and last dates with rows; buckets without rows are there,
 * with 0, so the bars show gaps as gaps.
 */
export function histogram(days: readonly DayCount[], range: { start?: string | null, end?: string | null }, finest: HistogramGrain = 'day'): Histogram {
  const start = range.start ?? days[0]?.day
  const end = range.end ?? days.at(-1)?.day
  if (!start || !end) return { grain: finest, buckets: [] }
  const grain = HISTOGRAM_GRAINS.slice(HISTOGRAM_GRAINS.indexOf(finest)).find(g => bucketsBetween(start, end, g).length <= MAX_BARS) ?? 'year'
  const counts = new Map(bucketsBetween(start, end, grain).map(bucket => [bucket, 0]))
  for (const { day, rows } of days) {
    const bucket = bucketOf(day, grain)
    if (counts.has(bucket)) counts.set(bucket, counts.get(bucket)! + rows)
  }
  return { grain, buckets: [...counts].map(([bucket, rows]) => ({ bucket, rows })) }
}

/** The first day of the bucket holding `day` (YYYY-MM-DD, UTC calendar). */
export function bucketOf(day: string, grain: HistogramGrain): string {
  const date = new Date(`${day}T00:00:00Z`)
  if (grain === 'week') date.setUTCDate(date.getUTCDate() - ((date.getUTCDay() + 6) % 7))
  if (grain === 'month' || grain === 'quarter' || grain === 'year') date.setUTCDate(1)
  if (grain === 'quarter') date.setUTCMonth(date.getUTCMonth() - (date.getUTCMonth() % 3))
  if (grain === 'year') date.setUTCMonth(0)
  return date.toISOString().slice(0, 10)
}

function bucketsBetween(start: string, end: string, grain: HistogramGrain): string[] {
  const buckets: string[] = []
  const last = bucketOf(end, grain)
  // Bounded: a range of years at day grain stops one past MAX_BARS, enough to refuse the grain.
  for (let bucket = bucketOf(start, grain); bucket <= last && buckets.length <= MAX_BARS; bucket = next(bucket, grain)) buckets.push(bucket)
  return buckets
}

function next(bucket: string, grain: HistogramGrain): string {
  const date = new Date(`${bucket}T00:00:00Z`)
  if (grain === 'day') date.setUTCDate(date.getUTCDate() + 1)
  else if (grain === 'week') date.setUTCDate(date.getUTCDate() + 7)
  else date.setUTCMonth(date.getUTCMonth() + (grain === 'month' ? 1 : grain === 'quarter' ? 3 : 12))
  return date.toISOString().slice(0, 10)
}
