-- One slow endpoint holds one delivery slot: the loop leases the endpoint while its attempt is in
-- flight (server/lib/notifications/webhooks/queue.ts), and takes one due delivery per endpoint.
ALTER TABLE "webhook_endpoints" ADD COLUMN "delivery_lease_until" TIMESTAMPTZ(3);

-- The claim's "oldest due delivery of this endpoint" and the per-endpoint pending count.
CREATE INDEX "webhook_deliveries_endpoint_id_status_next_attempt_at_idx" ON "webhook_deliveries"("endpoint_id", "status", "next_attempt_at");

-- The retention task deletes by age.
CREATE INDEX "webhook_deliveries_created_at_idx" ON "webhook_deliveries"("created_at");

-- Test pings and redeliveries per user (rate-limiter-flexible's PostgreSQL store, as login_rate_limits).
CREATE TABLE "webhook_send_rate_limits" (
    "key" TEXT NOT NULL,
    "points" INTEGER NOT NULL DEFAULT 0,
    "expire" BIGINT,

    CONSTRAINT "webhook_send_rate_limits_pkey" PRIMARY KEY ("key")
);
