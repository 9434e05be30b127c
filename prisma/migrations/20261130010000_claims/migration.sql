-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "claim_id" UUID;
