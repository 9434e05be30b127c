import type { z } from 'zod'
import type { FieldError } from '#shared/types/api'

/**
 * A request the engine refuses, with the HTTP status it means. Engine functions throw it without
 * knowing about HTTP frameworks; server/plugins/request-errors.ts turns it into the response.
 */
export class RequestError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly options: { data?: Record<string, unknown>, retryAfterSeconds?: number } = {}
  ) {
    super(message)
  }
}

/** 400 naming each bad field: `data.errors: [{ field, message }]`, as h3 reports a rejected body. */
export class ValidationError extends RequestError {
  constructor(readonly errors: FieldError[]) {
    super(400, `Invalid request: ${errors.map(e => `${e.field || 'body'}: ${e.message}`).join('; ')}`, { data: { errors } })
  }
}

export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => {
    // Unknown keys are reported on the object; name the offending keys instead.
    if (issue.code === 'unrecognized_keys') {
      // Nested objects (the csv options) name the key with its path: `csv.quote`.
      return { field: issue.keys.map(key => fieldPath([...issue.path, key])).join(', '), message: `Unknown field${issue.keys.length > 1 ? 's' : ''}` }
    }
    return { field: fieldPath(issue.path), message: issue.message }
  })
}

/**
 * `csv.delimiter`, `account_ids.0`; an item of a list of objects as in JavaScript, so a row
 * filter's problem reads `row_filters[2].op` wherever it was found.
 */
function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((key, i) => typeof key === 'number' && i < path.length - 1 ? `[${key}]` : `${i ? '.' : ''}${String(key)}`).join('')
}

/** A parser for h3's readValidatedBody/getValidatedQuery that reports every bad field by name. */
export function parseWith<S extends z.ZodType>(schema: S) {
  return (input: unknown): z.output<S> => {
    const result = schema.safeParse(input)
    if (!result.success) throw new ValidationError(fieldErrors(result.error))
    return result.data
  }
}
