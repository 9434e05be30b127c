-- Sign-in rate-limit counters shared by every web process (rate-limiter-flexible's PostgreSQL store,
-- server/lib/auth/sign-in.ts). The library's own layout, with a text key (keys hold an email).
-- CreateTable
CREATE TABLE "login_rate_limits" (
    "key" TEXT NOT NULL,
    "points" INTEGER NOT NULL DEFAULT 0,
    "expire" BIGINT,

    CONSTRAINT "login_rate_limits_pkey" PRIMARY KEY ("key")
);
