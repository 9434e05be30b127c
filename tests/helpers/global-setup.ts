import type { TestProject } from 'vitest/node'
import type { DemoOutput } from '#server/lib/demo-seed'
import { startServerSuite } from './suite'

declare module 'vitest' {
  export interface ProvidedContext {
    baseUrl: string
    demo: DemoOutput
    env: Record<string, string>
  }
}

/**
 * One built server on real PostgreSQL, DuckDB and s3rver, shared by the files of a project (e2e,
 * browser); its output is kept in test-results/<project>-server.log.
 */
export default async function setup(project: TestProject) {
  // Every browser file signs in from 127.0.0.1, many times over: more than a real client's 50
  // attempts per 15 minutes (the limit itself is tested in tests/e2e/security.test.ts).
  const env = project.name === 'browser' ? { LOGIN_MAX_ATTEMPTS_PER_IP: '1000' } : undefined
  const suite = await startServerSuite({ name: `${project.name}-server`, env })
  project.provide('baseUrl', suite.url)
  project.provide('demo', suite.demo)
  project.provide('env', suite.environment.env)
  return () => suite.teardown()
}
