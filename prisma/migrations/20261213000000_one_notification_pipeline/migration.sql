-- One notification pipeline (server/lib/notifications/): every channel claims a job in
-- job_notifications, Telegram included. Its old claim, jobs.notified_at, moves there and goes.
INSERT INTO "job_notifications" ("job_id", "channel", "claimed_at")
SELECT "id", 'telegram', "notified_at" FROM "jobs" WHERE "notified_at" IS NOT NULL
ON CONFLICT DO NOTHING;

ALTER TABLE "jobs" DROP COLUMN "notified_at";

-- Slack, through an incoming-webhook URL the user pastes (sealed: AES-256-GCM, server/lib/secrets.ts).
ALTER TABLE "notification_settings"
  ADD COLUMN "slack_completed" BOOLEAN NOT NULL DEFAULT true,
  ADD COLUMN "slack_failed" BOOLEAN NOT NULL DEFAULT true,
  ADD COLUMN "slack_webhook_url" TEXT;
