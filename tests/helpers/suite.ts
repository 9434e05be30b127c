import { mkdir, writeFile } from 'node:fs/promises'
import { afterAll, beforeAll } from 'vitest'
import type { DemoOutput } from '#server/lib/demo-seed'
import { createTestEnvironment, type TestEnvironment, type TestEnvironmentOptions } from './environment'
import { startFaultProxy, type FaultProxy } from './proxy'
import { startServer, type ServerHandle } from './server'

/**
 * The set-up every suite against the built server shares: a test environment (its own database,
 * s3rver and demo warehouse), optionally a fault proxy in front of s3rver, and built servers on
 * it. Every server started through the suite is stopped at teardown and its output kept in
 * test-results/<name>.log (git-ignored). `useServerSuite` does this around a test file's tests;
 * the e2e and browser projects' global set-up does it once for the files that share a server.
 */
export interface ServerSuiteOptions extends TestEnvironmentOptions {
  /** Names the log: test-results/<name>.log. */
  name: string
  /** Start a fault proxy in front of s3rver (`suite.proxy`; servers reach s3rver directly unless told `S3_ENDPOINT: suite.proxy.endpoint`). */
  faultProxy?: boolean
  /** Runs once the environment (and proxy) exist, before the server starts: take a dependency down, start a fake. */
  prepare?: (suite: ServerSuite) => unknown
  /** The server's variables on top of the environment's; a function to compute them from the suite. */
  env?: Record<string, string> | ((suite: ServerSuite) => Record<string, string>)
  /** false: the server is expected to start with a dependency down (its health answers 503). */
  requireHealthy?: boolean
}

export interface ServerSuite {
  readonly environment: TestEnvironment
  readonly demo: DemoOutput
  /** The fault proxy; throws unless the suite was created with `faultProxy: true`. */
  readonly proxy: FaultProxy
  /** The server the suite started (after `restart()`, the new one). */
  readonly server: ServerHandle
  /** Its base URL. */
  readonly url: string
  /** Its complete environment: the test environment's variables with the suite's on top. */
  readonly env: Record<string, string>
  /** Another built server on the same environment (e.g. a worker), with `env` on top of the environment's; stopped and logged at teardown. */
  startServer: (env?: Record<string, string>, opts?: { requireHealthy?: boolean }) => Promise<ServerHandle>
  /** Stops the server (if it still runs) and starts it again with the same environment, as after a crash. */
  restart: () => Promise<ServerHandle>
  /** Registers clean-up to run after the servers stop and before the environment is removed (last registered, first run). */
  onTeardown: (fn: () => unknown) => void
  /** Stops every server, writes the log, runs the clean-ups, closes the proxy and removes the environment. */
  teardown: () => Promise<void>
}

/** Sets the suite up now (for global set-up); on failure, whatever was started is torn down before the error is rethrown. */
export async function startServerSuite(options: ServerSuiteOptions): Promise<ServerSuite> {
  let environment: TestEnvironment | undefined
  let proxy: FaultProxy | undefined
  let main: ServerHandle | undefined
  let env: Record<string, string> | undefined
  const servers: ServerHandle[] = []
  const cleanups: (() => unknown)[] = []

  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${options.name}: ${what} is not available yet`)
    return value
  }
  const start = async (vars: Record<string, string>, requireHealthy?: boolean) => {
    const server = await startServer(vars, requireHealthy === undefined ? {} : { requireHealthy })
    servers.push(server)
    return server
  }

  const suite: ServerSuite = {
    get environment() {
      return ready(environment, 'the environment')
    },
    get demo() {
      return suite.environment.demo
    },
    get proxy() {
      if (!options.faultProxy) throw new Error(`${options.name}: no fault proxy (use faultProxy: true)`)
      return ready(proxy, 'the fault proxy')
    },
    get server() {
      return ready(main, 'the server')
    },
    get url() {
      return suite.server.url
    },
    get env() {
      return ready(env, 'the server\'s environment')
    },
    startServer: (vars = {}, opts = {}) => start({ ...suite.environment.env, ...vars }, opts.requireHealthy),
    restart: async () => {
      await main?.stop()
      main = await start(suite.env, options.requireHealthy)
      return main
    },
    onTeardown: (fn) => {
      cleanups.push(fn)
    },
    teardown: async () => {
      await Promise.all(servers.map(s => s.stop()))
      if (servers.length) {
        await mkdir('test-results', { recursive: true })
        await writeFile(`test-results/${options.name}.log`, servers.map(s => s.output()).join('\n----\n'))
      }
      for (const fn of cleanups.splice(0).reverse()) await fn()
      await proxy?.close()
      await environment?.teardown()
    }
  }

  try {
    environment = await createTestEnvironment({ users: options.users, transactions: options.transactions, seed: options.seed })
    if (options.faultProxy) proxy = await startFaultProxy(environment.s3.port)
    await options.prepare?.(suite)
    env = { ...environment.env, ...(typeof options.env === 'function' ? options.env(suite) : options.env) }
    main = await start(env, options.requireHealthy)
  } catch (error) {
    await suite.teardown()
    throw error
  }
  return suite
}

/**
 * `startServerSuite` around a test file's (or describe block's) tests: set up in beforeAll, torn
 * down in afterAll. The returned suite reads through to the live one, so use it inside hooks and
 * tests, not at collection time.
 */
export function useServerSuite(options: ServerSuiteOptions): ServerSuite {
  let current: ServerSuite | undefined
  beforeAll(async () => {
    current = await startServerSuite(options)
  })
  afterAll(async () => {
    await current?.teardown()
  })
  const live = (): ServerSuite => {
    if (!current) throw new Error(`${options.name}: the suite is used before its beforeAll ran (or that failed)`)
    return current
  }
  return {
    get environment() {
      return live().environment
    },
    get demo() {
      return live().demo
    },
    get proxy() {
      return live().proxy
    },
    get server() {
      return live().server
    },
    get url() {
      return live().url
    },
    get env() {
      return live().env
    },
    startServer: (env, opts) => live().startServer(env, opts),
    restart: () => live().restart(),
    onTeardown: fn => live().onTeardown(fn),
    teardown: () => live().teardown()
  }
}
