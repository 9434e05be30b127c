-- "Tell me when a schedule pauses itself" per channel: until now it followed the channel's choice
-- for failed exports, so each user starts with that choice.
ALTER TABLE notification_settings
  ADD COLUMN telegram_schedule_paused BOOLEAN NOT NULL DEFAULT true,
  ADD COLUMN email_schedule_paused BOOLEAN NOT NULL DEFAULT true,
  ADD COLUMN slack_schedule_paused BOOLEAN NOT NULL DEFAULT true;
UPDATE notification_settings
  SET telegram_schedule_paused = telegram_failed, email_schedule_paused = email_failed, slack_schedule_paused = slack_failed;
