// Runs the Prisma CLI without its native schema engine, which it would otherwise try to download
// (unreachable on our machines). `generate` does not need the engine; commands that do fail loudly
// instead of silently "succeeding" (see shared NOTES-offline). Migrations: `npm run db:migrate`.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const noEngine = fileURLToPath(new URL('./no-schema-engine.sh', import.meta.url))
const result = spawnSync(process.execPath, ['node_modules/prisma/build/index.js', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { PRISMA_SCHEMA_ENGINE_BINARY: noEngine, PRISMA_HIDE_UPDATE_MESSAGE: '1', ...process.env }
})
process.exit(result.status ?? 1)
