import { z } from 'zod'

// PostgreSQL refuses U+0000 in text (the insert fails), and a lone UTF-16 surrogate cannot be
// encoded as UTF-8 (it is stored as U+FFFD, so the saved text is not what was sent).
const UNSTORABLE = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * Free text the server stores (names, descriptions, URLs): trimmed, at most `max` characters, and
 * storable as it was sent. Every stored text field of a request uses it, so each refuses the same
 * input with a 400 naming the field instead of failing at the database.
 */
export function storedText({ max }: { max: number }) {
  return z.string().trim().max(max, `At most ${max} characters`)
    .refine(value => !UNSTORABLE.test(value), 'Must not contain NUL characters or unpaired surrogates')
}
