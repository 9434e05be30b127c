import { z } from 'zod'

export interface SessionUser { id: string, email: string, display_name: string }

export const LoginSchema = z.strictObject({
  email: z.email('Enter a valid email address').max(254).transform(v => v.toLowerCase()),
  password: z.string().min(1, 'Enter your password').max(1024)
})

export type LoginInput = z.input<typeof LoginSchema>
