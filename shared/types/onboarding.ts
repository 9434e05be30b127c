import { z } from 'zod'

/** The datasets page's "Get started" card (GET /api/onboarding). */

export const ONBOARDING_STEPS = ['export', 'notifications', 'schedule', 'token'] as const

export type OnboardingStepId = typeof ONBOARDING_STEPS[number]

export const OnboardingSchema = z.object({
  dismissed: z.boolean().meta({ description: 'Whether the user closed the card (POST /api/onboarding/dismiss)' }),
  steps: z.array(z.object({
    id: z.enum(ONBOARDING_STEPS),
    done: z.boolean()
  })).meta({ description: 'In this order: `export` (any export), `notifications` (Telegram linked, a Slack URL or an enabled webhook, or email chosen on a server that sends email), `schedule` (any schedule), `token` (any API token)' })
}).meta({ id: 'Onboarding' })

export type OnboardingDTO = z.infer<typeof OnboardingSchema>
