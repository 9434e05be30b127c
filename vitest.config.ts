import { defineConfig } from 'vitest/config'

// unit: pure functions, no database, DuckDB, S3 or network. integration: the engine under
// server/lib against real PostgreSQL, DuckDB and s3rver, without Nuxt. e2e: the built server over
// HTTP. browser: the built server driven through Chromium. e2e and browser files run one at a time,
// after the others, each project with its own shared server (tests/helpers/global-setup.ts).
const BUILT_SERVER = {
  environment: 'node',
  globalSetup: ['tests/helpers/global-setup.ts'],
  testTimeout: 120_000,
  hookTimeout: 300_000,
  fileParallelism: false
}

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['tests/unit/**/*.test.ts'],
          environment: 'node',
          testTimeout: 10_000
        }
      },
      {
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000
        }
      },
      {
        test: {
          name: 'e2e',
          include: ['tests/e2e/**/*.test.ts'],
          ...BUILT_SERVER
        }
      },
      {
        test: {
          name: 'browser',
          include: ['tests/browser/**/*.test.ts'],
          ...BUILT_SERVER
        }
      }
    ]
  }
})
