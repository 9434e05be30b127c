import { z } from 'zod'

/** The health routes' answers (server/api/health/**). */

export const LivenessSchema = z.object({ status: z.literal('ok') })

export const CheckSchema = z.union([
  z.object({ ok: z.literal(true) }),
  z.object({ ok: z.literal(false), error: z.string() })
])

export const ReadinessSchema = z.union([
  z.object({
    status: z.enum(['ok', 'degraded']),
    checks: z.object({ database: CheckSchema, warehouse: CheckSchema, storage: CheckSchema })
  }),
  // The configuration itself is invalid: the message names variables, never their values.
  z.object({ status: z.literal('error'), error: z.string() })
]).meta({ id: 'Readiness' })
