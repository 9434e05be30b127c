import type { Db } from '#server/lib/db/client'
import { hasExports } from '#server/lib/exports/jobs/lookups'
import { ONBOARDING_STEPS, type OnboardingDTO } from '#shared/types/onboarding'

/**
 * The "Get started" steps, each read from the user's own rows so it ticks itself off whichever way
 * the user did it (the app, the API, the CLI). Email counts only on a server that sends it: every
 * user has it on by default, so there it must be a choice the user saved.
 */
export async function onboarding(db: Db, userId: string, options: { emailConfigured: boolean }): Promise<OnboardingDTO> {
  const settings = db.pool.query<{ dismissed: boolean, notifications: boolean, schedule: boolean, token: boolean }>({
    text: `SELECT u.onboarding_dismissed_at IS NOT NULL AS dismissed,
        (u.telegram_chat_id IS NOT NULL
          OR EXISTS (SELECT 1 FROM webhook_endpoints WHERE user_id = u.id AND enabled)
          OR EXISTS (SELECT 1 FROM notification_settings n WHERE n.user_id = u.id AND (
            (n.slack_webhook_url IS NOT NULL AND (n.slack_completed OR n.slack_failed))
            OR ($2 AND (n.email_completed OR n.email_failed))))) AS notifications,
        EXISTS (SELECT 1 FROM schedules WHERE user_id = u.id) AS schedule,
        EXISTS (SELECT 1 FROM api_tokens WHERE user_id = u.id) AS token
      FROM users u WHERE u.id = $1`,
    values: [userId, options.emailConfigured]
  })
  const [exported, { rows: [row] }] = await Promise.all([hasExports(db, userId), settings])
  if (!row) throw new Error(`No user ${userId}`)
  return {
    dismissed: row.dismissed,
    steps: ONBOARDING_STEPS.map(id => ({ id, done: id === 'export' ? exported : row[id] }))
  }
}

/** Closes the card for good; the first time counts, so a second click changes nothing. */
export async function dismissOnboarding(db: Db, userId: string): Promise<void> {
  await db.pool.query({
    text: 'UPDATE users SET onboarding_dismissed_at = coalesce(onboarding_dismissed_at, now()) WHERE id = $1',
    values: [userId]
  })
}
