import { mkdir, writeFile } from 'node:fs/promises'
import type { TestProject } from 'vitest/node'
import type { DemoOutput } from '../../server/lib/demo-seed'
import { createTestEnvironment } from './environment'
import { startServer } from './server'

declare module 'vitest' {
  export interface ProvidedContext {
    baseUrl: string
    demo: DemoOutput
    env: Record<string, string>
  }
}

/** One built server on real PostgreSQL, DuckDB and s3rver, shared by the files of a project (e2e, browser). */
export default async function setup(project: TestProject) {
  const environment = await createTestEnvironment()
  const server = await startServer(environment.env)
  project.provide('baseUrl', server.url)
  project.provide('demo', environment.demo)
  project.provide('env', environment.env)
  return async () => {
    await server.stop()
    // Kept for diagnosing failures (test-results/ is git-ignored).
    await mkdir('test-results', { recursive: true })
    await writeFile(`test-results/${project.name}-server.log`, server.output())
    await environment.teardown()
  }
}
