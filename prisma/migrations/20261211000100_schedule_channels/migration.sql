-- A schedule's own notification channels ({ "telegram"?, "email"?, "webhooks"? }); NULL = the user's settings.
ALTER TABLE "schedules" ADD COLUMN "channels" JSONB;
