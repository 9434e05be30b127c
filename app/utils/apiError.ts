import type { FieldError } from '#shared/types/api'

/** The parts of an API error the app reads: `$fetch` puts the server's JSON body in `data`. */
interface ApiErrorBody { message?: unknown, data?: { errors?: FieldError[] } }

function body(error: unknown): ApiErrorBody | undefined {
  const data: unknown = error && typeof error === 'object' ? Reflect.get(error, 'data') : undefined
  return data && typeof data === 'object' ? data as ApiErrorBody : undefined
}

/** What the server said went wrong (its `message`, written for people), or `fallback` when it said nothing. */
export function apiErrorMessage<F extends string | undefined = undefined>(error: unknown, fallback?: F): string | F {
  const message = body(error)?.message
  return typeof message === 'string' && message ? message : fallback as F
}

/** The fields a 400 named (`data.errors`); none for any other error. */
export function apiFieldErrors(error: unknown): FieldError[] {
  return body(error)?.data?.errors ?? []
}

/** Every problem the server named, in one line: its field errors, or else its message. */
export function apiErrorSummary(error: unknown, fallback: string): string {
  return apiFieldErrors(error).map(err => err.message).join('; ') || apiErrorMessage(error, fallback)
}

/** The HTTP status of a failed `$fetch`, if it got an answer at all. */
export function apiErrorStatus(error: unknown): number | undefined {
  const status: unknown = error && typeof error === 'object' ? Reflect.get(error, 'statusCode') : undefined
  return typeof status === 'number' ? status : undefined
}
