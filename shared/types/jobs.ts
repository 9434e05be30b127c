import { z } from 'zod'

/**
 * Job statuses: one row each, with the badge colour the app shows for it. The database enum (`job_status` in
 * prisma/schema.prisma) holds the same names; a type check in server/lib/exports/jobs/record.ts
 * keeps the two equal.
 */
export const JOB_STATUSES = {
  pending: { color: 'neutral', active: true },
  running: { color: 'info', active: true },
  completed: { color: 'success', active: false },
  failed: { color: 'error', active: false },
  cancelled: { color: 'warning', active: false },
  expired: { color: 'neutral', active: false },
  // The user deleted it: the file is gone, the job stays in the history.
  deleted: { color: 'neutral', active: false }
} as const satisfies Record<string, { color: 'neutral' | 'info' | 'success' | 'error' | 'warning', active: boolean }>

export type JobStatus = keyof typeof JOB_STATUSES

type Active = { [S in JobStatus]: typeof JOB_STATUSES[S]['active'] extends true ? S : never }[JobStatus]

/** Waiting or running: may still change, counts against the per-user limit, can be cancelled. */
export const ACTIVE_STATUSES = (Object.keys(JOB_STATUSES) as JobStatus[]).filter(s => JOB_STATUSES[s].active) as Active[]

/** Will never change again (but for `completed` becoming `expired` when retention removes the file, or `deleted` when the user does). */
export const FINAL_STATUSES = (Object.keys(JOB_STATUSES) as JobStatus[]).filter(s => !JOB_STATUSES[s].active) as Exclude<JobStatus, Active>[]

export function isActiveStatus(status: JobStatus): status is Active {
  return JOB_STATUSES[status].active
}

export function isFinalStatus(status: JobStatus): boolean {
  return !JOB_STATUSES[status].active
}

/** Every status name, for validating a status filter. */
export const JOB_STATUS_IDS = Object.keys(JOB_STATUSES) as [JobStatus, ...JobStatus[]]

export const JobStatusSchema = z.enum(JOB_STATUS_IDS)
