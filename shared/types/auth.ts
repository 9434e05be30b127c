import { z } from 'zod'

export const SessionUserSchema = z.object({
  id: z.guid(),
  email: z.email(),
  display_name: z.string()
}).meta({ id: 'User' })

export type SessionUser = z.infer<typeof SessionUserSchema>

/** The answer of sign-in and of GET /api/auth/me. */
export const UserResponseSchema = z.object({ user: SessionUserSchema })

export const LoginSchema = z.strictObject({
  email: z.email('Enter a valid email address').max(254).transform(v => v.toLowerCase()),
  password: z.string().min(1, 'Enter your password').max(1024)
})

export type LoginInput = z.input<typeof LoginSchema>

export const LogoutAllSchema = z.object({
  ok: z.literal(true),
  sessions_ended: z.int().min(0).meta({ description: 'Sessions of the caller that were ended, this one included' })
})
