import type { Db } from '../db/client'
import type { ExportJob } from '../exports/jobs/record'
import { scheduleChannels } from '../schedules/store'
import type { ScheduleChannel } from '../../../shared/types/schedules'
import type { NotificationSettingsDTO, UpdateNotificationSettings } from '../../../shared/types/notifications'

/**
 * A user's notification choices. No row means the defaults: every configured channel announces
 * both completed and failed exports, so a new user is told without visiting the settings page.
 */

export interface ChannelChoices { telegramCompleted: boolean, telegramFailed: boolean, emailCompleted: boolean, emailFailed: boolean }

export const DEFAULT_CHOICES: ChannelChoices = { telegramCompleted: true, telegramFailed: true, emailCompleted: true, emailFailed: true }

export async function channelChoices(db: Db, userId: string): Promise<ChannelChoices> {
  const row = await db.notificationSettings.findUnique({ where: { userId } })
  return row ? { telegramCompleted: row.telegramCompleted, telegramFailed: row.telegramFailed, emailCompleted: row.emailCompleted, emailFailed: row.emailFailed } : DEFAULT_CHOICES
}

/** Whether the user wants this outcome on this channel. */
export function wants(choices: ChannelChoices, channel: 'telegram' | 'email', status: string): boolean {
  if (status === 'completed') return channel === 'telegram' ? choices.telegramCompleted : choices.emailCompleted
  if (status === 'failed') return channel === 'telegram' ? choices.telegramFailed : choices.emailFailed
  return false
}

/**
 * Whether this finished job is announced on this channel. A scheduled run asks its schedule first
 * (a channel it names decides, for either outcome); otherwise the user's settings decide, and for
 * webhooks each endpoint's subscribed events.
 */
export async function jobWants(db: Db, job: Pick<ExportJob, 'userId' | 'status' | 'scheduleId'>, channel: ScheduleChannel): Promise<boolean> {
  if (job.status !== 'completed' && job.status !== 'failed') return false
  const chosen = job.scheduleId ? (await scheduleChannels(db, job.scheduleId))?.[channel] : undefined
  if (chosen !== undefined) return chosen
  if (channel === 'webhooks') return true
  return wants(await channelChoices(db, job.userId), channel, job.status)
}

export async function getNotificationSettings(db: Db, user: { id: string, email: string }): Promise<NotificationSettingsDTO> {
  const c = await channelChoices(db, user.id)
  return {
    telegram: { completed: c.telegramCompleted, failed: c.telegramFailed },
    email: { completed: c.emailCompleted, failed: c.emailFailed, address: user.email }
  }
}

/** Applies a partial update (fields left out keep their value) and returns the result. */
export async function updateNotificationSettings(db: Db, user: { id: string, email: string }, patch: UpdateNotificationSettings): Promise<NotificationSettingsDTO> {
  const data: Partial<ChannelChoices> = {
    ...(patch.telegram?.completed !== undefined && { telegramCompleted: patch.telegram.completed }),
    ...(patch.telegram?.failed !== undefined && { telegramFailed: patch.telegram.failed }),
    ...(patch.email?.completed !== undefined && { emailCompleted: patch.email.completed }),
    ...(patch.email?.failed !== undefined && { emailFailed: patch.email.failed })
  }
  await db.notificationSettings.upsert({ where: { userId: user.id }, create: { userId: user.id, ...data }, update: data })
  return getNotificationSettings(db, user)
}
