import type { Readable } from 'node:stream'
import type { DestinationTestStepDTO } from '#shared/types/destinations'
import { UnsafeUrlError, vetUrl, type UrlPolicy, type Vetted } from '#server/lib/notifications/webhooks/address'

/**
 * What a destination type is: a test that reports each step in words, and a delivery that streams
 * the export's object from Outport's bucket to the destination and checks what arrived. One module
 * per type beside this one; index.ts lists them.
 */

export interface DriverDeps extends UrlPolicy {
  /** The user's sts:ExternalId (role_arn credentials). */
  externalId: string
  /** DESTINATIONS_STS_ENDPOINT: where AssumeRole goes instead of AWS STS. */
  stsEndpoint?: string
  /** AssumeRole's session name: names the user in the destination account's CloudTrail. */
  sessionName: string
  /** A connection that moves nothing for this long fails. */
  timeoutMs: number
}

/** The export's file in Outport's bucket, opened afresh for each attempt (never the query again). */
export interface FileSource {
  size: number
  contentType: string
  open: () => Promise<Readable>
}

export interface Delivered {
  location: string
  bytes: number
}

export interface Driver<C, K> {
  test: (config: C, credentials: K, deps: DriverDeps, steps: TestSteps) => Promise<void>
  deliver: (config: C, credentials: K, path: string, source: FileSource, deps: DriverDeps) => Promise<Delivered>
  /** The template filled in for this type (object keys are relative, SFTP paths may be absolute). */
  absolutePaths: boolean
}

/** A failed step's or delivery's reason, in words for the user (never a credential). */
export class DestinationError extends Error {}

/** Ends a test at its first failed step. */
class StepFailed extends Error {}

/** A test's steps, in order, each timed; the first failure ends the test. */
export class TestSteps {
  readonly steps: DestinationTestStepDTO[] = []
  hostKeySha256: string | null = null

  /** Runs the step: its message on success; a DestinationError's message fails it (other errors are bugs and rethrown). */
  async run(step: string, fn: () => Promise<string>): Promise<void> {
    const started = performance.now()
    try {
      const message = await fn()
      this.add(step, true, message, started)
    } catch (error) {
      if (!(error instanceof DestinationError)) throw error
      this.add(step, false, error.message, started)
      throw new StepFailed(error.message)
    }
  }

  /** A step known at once (its time counted from `started`). */
  add(step: string, ok: boolean, message: string, started = performance.now()): void {
    this.steps.push({ step, ok, message, ms: Math.max(0, Math.round(performance.now() - started)) })
  }

  get ok(): boolean {
    return this.steps.length > 0 && this.steps.every(s => s.ok)
  }

  static stopped(error: unknown): boolean {
    return error instanceof StepFailed
  }
}

/** The webhook rules for a URL the user gave (https or the allow-list, no private addresses), as a DestinationError. */
export async function vetEndpoint(url: string, policy: UrlPolicy, what: string): Promise<Vetted> {
  try {
    return await vetUrl(url, policy)
  } catch (error) {
    if (error instanceof UnsafeUrlError) throw new DestinationError(`The ${what} ${error.message}`)
    throw error
  }
}

/** An error's message without anything that looks like a credential or a signed query. */
export function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.replace(/([?&](sig|se|sv|sp|X-Amz-[A-Za-z-]+)=)[^&\s]+/g, '$1…').slice(0, 500)
}
