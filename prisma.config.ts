import { defineConfig } from 'prisma/config'

// process.env rather than Prisma's env(): env() throws when the variable is unset, which would break
// `prisma generate` on a machine without a database.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? '' }
})
