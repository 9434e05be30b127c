-- Destinations (issue 25): the user's own buckets, containers and SFTP servers, and one delivery
-- row per export and destination (server/lib/destinations).

-- The sts:ExternalId for AssumeRole into the user's IAM roles, made on first use.
ALTER TABLE "users" ADD COLUMN "destinations_external_id" TEXT;

-- CreateIndex
CREATE UNIQUE INDEX "users_destinations_external_id_key" ON "users"("destinations_external_id");

-- CreateTable
CREATE TABLE "destinations" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "user_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "config" JSONB NOT NULL,
    "credentials" TEXT NOT NULL,
    "credential_kind" TEXT NOT NULL,
    "credential_hint" TEXT,
    "last_test" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "destinations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "export_deliveries" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "job_id" UUID NOT NULL,
    "destination_id" UUID,
    "position" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "location" TEXT,
    "error" TEXT,
    "bytes" BIGINT,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lease_until" TIMESTAMPTZ(3),
    "claim_id" UUID,
    "delivered_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "export_deliveries_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "destinations_user_id_idx" ON "destinations"("user_id");

-- CreateIndex
CREATE UNIQUE INDEX "export_deliveries_job_id_position_key" ON "export_deliveries"("job_id", "position");

-- "Due deliveries", read by the claim.
-- CreateIndex
CREATE INDEX "export_deliveries_status_next_attempt_at_idx" ON "export_deliveries"("status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "export_deliveries_destination_id_idx" ON "export_deliveries"("destination_id");

-- AddForeignKey
ALTER TABLE "destinations" ADD CONSTRAINT "destinations_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "export_deliveries" ADD CONSTRAINT "export_deliveries_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "export_deliveries" ADD CONSTRAINT "export_deliveries_destination_id_fkey" FOREIGN KEY ("destination_id") REFERENCES "destinations"("id") ON DELETE SET NULL ON UPDATE CASCADE;
