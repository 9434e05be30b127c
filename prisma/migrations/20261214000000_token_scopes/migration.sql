-- API token scopes (shared/types/tokens.ts). Tokens minted before them keep what they could do,
-- minus changing where notifications go: exports, schedules and reads, no webhooks:write. The
-- default only fills the existing rows; new rows always name their scopes.
ALTER TABLE "api_tokens" ADD COLUMN "scopes" TEXT[] NOT NULL DEFAULT ARRAY['exports:read', 'exports:write', 'schedules:write'];
ALTER TABLE "api_tokens" ALTER COLUMN "scopes" DROP DEFAULT;
