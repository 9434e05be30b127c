import type { NotificationChannel } from '#shared/types/notifications'
import type { ChannelFactory } from '../channel'
import { emailChannel } from './email'
import { slackChannel } from './slack'
import { telegramChannel } from './telegram'
import { webhookChannel } from './webhook'

/**
 * The channels' implementations, one row each, keyed by the ids of CHANNELS in
 * shared/types/notifications.ts (the type makes a missing row a compile error).
 */
export const CHANNEL_FACTORIES: Record<NotificationChannel, ChannelFactory> = {
  telegram: telegramChannel,
  email: emailChannel,
  webhook: webhookChannel,
  slack: slackChannel
}
