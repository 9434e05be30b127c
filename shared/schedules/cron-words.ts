/**
 * A 5-field cron expression in words ("At 08:00 on Monday"), for the forms people read and
 * write; null for what it cannot say plainly (the expression is then shown as it is). Whether the
 * expression is valid is croner's business (cadence.ts): this only reads the common shapes.
 */

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday']
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December']
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT']
const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC']

/** A field as plain values and ranges (`1-5`), or null for steps and other shapes. */
type Part = { from: number, to: number }

function parts(field: string, names: string[] = [], offset = 0): Part[] | null {
  const value = (s: string) => {
    const i = names.indexOf(s.toUpperCase())
    if (i >= 0) return i + offset
    return /^\d+$/.test(s) ? Number(s) : NaN
  }
  const out: Part[] = []
  for (const item of field.split(',')) {
    const [a, b, extra] = item.split('-')
    const from = value(a ?? '')
    const to = b === undefined ? from : value(b)
    if (extra !== undefined || Number.isNaN(from) || Number.isNaN(to)) return null
    out.push({ from, to })
  }
  return out
}

function list(words: string[]): string {
  return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`
}

const pad = (n: number) => String(n).padStart(2, '0')
const single = (p: Part[] | null): number[] | null => p && p.every(x => x.from === x.to) ? p.map(x => x.from) : null
const step = (field: string) => /^(\*|0)\/(\d+)$/.exec(field)?.[2]

function timePhrase(minute: string, hour: string): string | null {
  const minutes = single(parts(minute))
  const hours = parts(hour)
  const hourValues = single(hours)
  if (minutes && hourValues && minutes.length * hourValues.length <= 4) {
    return `At ${list(hourValues.flatMap(h => minutes.map(m => `${pad(h)}:${pad(m)}`)))}`
  }
  const minuteStep = step(minute)
  const during = hour === '*'
    ? ''
    : hours?.length === 1 ? ` from ${pad(hours[0]!.from)}:00 to ${pad(hours[0]!.to)}:59` : null
  if (during === null) {
    const hourStep = step(hour)
    if (minutes && hourStep) return `At minute ${list(minutes.map(String))} of every ${hourStep}${ordinal(Number(hourStep))} hour`
    return null
  }
  if (minute === '*') return `Every minute${during}`
  if (minuteStep) return `Every ${minuteStep} minutes${during}`
  if (minutes) return `At minute ${list(minutes.map(String))} of every hour${during}`
  return null
}

function ordinal(n: number): string {
  if (n % 100 >= 11 && n % 100 <= 13) return 'th'
  return ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th'
}

function range(p: Part, word: (n: number) => string): string {
  return p.from === p.to ? word(p.from) : `${word(p.from)} to ${word(p.to)}`
}

export function describeCron(expression: string): string | null {
  const fields = expression.trim().split(/\s+/)
  if (fields.length !== 5) return null
  const [minute, hour, dom, month, dow] = fields as [string, string, string, string, string]
  const time = timePhrase(minute, hour)
  if (!time) return null
  const months = month === '*' ? [] : parts(month, MONTH_NAMES, 1)
  const weekdays = dow === '*' ? [] : parts(dow, DAY_NAMES)
  const days = dom === '*' || dom === 'L' ? [] : parts(dom)
  if (!months || !weekdays || !days) return null
  if ([...months, ...weekdays, ...days].some(p => p.from > p.to)) return null
  const onDays = dom === 'L'
    ? 'on the last day of the month'
    : days.length ? `on ${days.length === 1 && days[0]!.from === days[0]!.to ? 'day' : 'days'} ${list(days.map(p => range(p, String)))} of the month` : ''
  const onWeekdays = weekdays.length ? `on ${list(weekdays.map(p => range(p, n => WEEKDAYS[n] ?? String(n))))}` : ''
  // Both given: cron runs on either (day of month OR weekday).
  const on = [onDays, onWeekdays].filter(Boolean).join(' or ')
  const inMonths = months.length ? `in ${list(months.map(p => range(p, n => MONTHS[n - 1] ?? String(n))))}` : ''
  const daily = !on && !inMonths && !/^(Every|At minute)/.test(time) ? 'every day' : ''
  return [time, daily, on, inMonths].filter(Boolean).join(' ')
}
