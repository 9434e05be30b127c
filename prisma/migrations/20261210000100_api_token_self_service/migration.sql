-- AlterTable: tokens may expire; the prefix (the first characters of the secret) identifies a token
-- in lists without revealing it. Tokens created before this migration have no prefix.
ALTER TABLE "api_tokens" ADD COLUMN     "expires_at" TIMESTAMPTZ(3),
ADD COLUMN     "prefix" TEXT;
