import type { FieldError } from '#shared/types/api'

/** The parts of an API error the app reads: `$fetch` puts the server's JSON body in `data`. */
interface ApiErrorBody { message?: unknown, data?: { errors?: FieldError[] } }

function body(error: unknown): ApiErrorBody | undefined {
  const data: unknown = error && typeof error === 'object' ? Reflect.get(error, 'data') : undefined
  return data && typeof data === 'object' ? data as ApiErrorBody : undefined
}

/** What the server said went wrong (its `message`, written for people), or `fallback` when it said nothing. */
export function apiErrorMessage(error: unknown, fallback: string): string
export function apiErrorMessage(error: unknown): string | undefined
export function apiErrorMessage(error: unknown, fallback?: string): string | undefined {
  const message = body(error)?.message
  return typeof message === 'string' && message ? message : fallback
}

/** The fields a 400 named (`data.errors`); none for any other error. */
export function apiFieldErrors(error: unknown): FieldError[] {
  return body(error)?.data?.errors ?? []
}

/** The HTTP status of a failed `$fetch`, if it got an answer at all. */
export function apiErrorStatus(error: unknown): number | undefined {
  const status: unknown = error && typeof error === 'object' ? Reflect.get(error, 'statusCode') : undefined
  return typeof status === 'number' ? status : undefined
}
