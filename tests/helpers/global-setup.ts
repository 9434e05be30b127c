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
  const suite = await startServerSuite({ name: `${project.name}-server` })
  project.provide('baseUrl', suite.url)
  project.provide('demo', suite.demo)
  project.provide('env', suite.environment.env)
  return () => suite.teardown()
}
