/**
 * The one place that keeps secrets out of log lines. Every line the server prints passes through
 * redact() (server/plugins/00-log-redaction.ts wraps the process's stdout and stderr), so a library
 * that logs a URL or an error message cannot leak what it carries:
 *
 * - the bot token in Bot API URLs (`/bot<token>/`), which telegraf leaves in the message of a
 *   non-JSON answer, and a bare bot token anywhere;
 * - `token=` query values: the signed download links (`/exports/{id}/download?token=…`) that Nitro
 *   prints with an unhandled 500;
 * - the signature, credential and session token of presigned S3 URLs;
 * - `Bearer …` credentials, `otp_…` API tokens and the session cookie's value;
 * - the user-info and query values of every http(s) URL: a webhook or Slack URL may carry its
 *   secret there (`https://key@hooks.example.com/in?token=…`), and no log line knows which URL is
 *   a webhook's. Only the presigned URLs' parameters that say nothing secret (algorithm, date,
 *   lifetime, signed headers, the file's name and type) keep their values.
 *
 * The shape stays readable (`token=[REDACTED]`), so a line still says what happened. One line may
 * be let through on purpose: showInLogOnce() (the demo user's token `npm run dev` prints).
 */

export const REDACTED = '[REDACTED]'

// A query value ends at the next parameter, whitespace, a quote or bracket (URLs inside JSON or
// HTML), or a fragment. Also at a backslash: in a JSON log line `\"` ends a string, and eating the
// backslash would leave a bare quote that breaks the line (no secret contains one).
const VALUE = String.raw`[^&\s"'<>#;,)\]}\\]+`

const RULES: ReadonlyArray<[RegExp, string]> = [
  // Bot API URLs: /bot123456:ABC…/method (also the user-mode /user… of a local Bot API server).
  [/\/(bot|user)\d+:[A-Za-z0-9_-]+/g, `/$1${REDACTED}`],
  // A bot token on its own: the numeric bot id, a colon, 30+ characters.
  [/\b\d{6,}:[A-Za-z0-9_-]{30,}/g, REDACTED],
  // Presigned URL parts (query form, case-insensitive as URLs are decoded by some loggers).
  [new RegExp(String.raw`(X-Amz-(?:Signature|Credential|Security-Token)=)${VALUE}`, 'gi'), `$1${REDACTED}`],
  // token=… as a query parameter (also HTML-escaped: &amp;token=) or a form field.
  [new RegExp(String.raw`([?&;]token=)${VALUE}`, 'gi'), `$1${REDACTED}`],
  // Authorization headers, however they were printed.
  [/\b(Bearer\s+)[^\s"',;\\]+/gi, `$1${REDACTED}`],
  // API tokens wherever they appear (the shape in server/lib/auth/tokens.ts).
  [/\botp_[A-Za-z0-9_-]{8,}/g, `otp_${REDACTED}`],
  // Passwords in connection URLs (SMTP_URL: nodemailer may print it in an error).
  [/\b((?:smtps?|postgres(?:ql)?|https?):\/\/[^:/@\s"']+:)[^@\s"']+@/gi, `$1${REDACTED}@`],
  // Webhook signing secrets (Standard Webhooks' whsec_ + base64).
  [/\bwhsec_[A-Za-z0-9+/=]{8,}/g, `whsec_${REDACTED}`],
  // The sealed session cookie (nuxt-auth-utils' name), in a Cookie or Set-Cookie header.
  [/(nuxt-session=)[^;\s"',\\]+/g, `$1${REDACTED}`],
  // Destination credentials: a private key's PEM body, and the credential fields of a request body
  // or an object printed as JSON (server/lib/destinations).
  [/(-----BEGIN [A-Z ]*PRIVATE KEY-----)[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----)/g, `$1${REDACTED}$2`],
  [/((?:\\?")(?:secret_access_key|account_key|sas_token|private_key|passphrase|password)\\?"\s*:\s*\\?")(?:[^"\\]|\\(?!"))*/g, `$1${REDACTED}`],
  // A bare SAS token's signature (inside a URL the query rule below takes it).
  [new RegExp(String.raw`((?:^|[?&\s])sig=)${VALUE}`, 'g'), `$1${REDACTED}`]
]

// The user-info of an http(s) URL (`user@` or `user:password@`): before the host, no `/`, `?` or `#`.
const URL_USER_INFO = /\b(https?:\/\/)[^\s/?#@"'<>\\]+@/gi
// An http(s) URL's query: up to whitespace, a quote or angle bracket, a fragment or a backslash (as VALUE).
const URL_QUERY = /\b(https?:\/\/[^\s?#"'<>\\]+\?)([^\s#"'<>\\]+)/gi
const QUERY_PARAM = /(^|&amp;|[&;])([^=&;]+)(=[^&;]*)?/g
// Punctuation after a URL in prose or code (`(see https://…?a=1).`) is not part of its query.
const QUERY_TAIL = /^(.*?(?:\[REDACTED\])?)([)\]},.:!?]*)$/
// Presigned S3 parameters that hold nothing secret and make a line useful.
const PUBLIC_PARAMS = /^(?:X-Amz-(?:Algorithm|Date|Expires|SignedHeaders)|x-id|response-content-(?:disposition|type))$/i

function redactQuery(query: string): string {
  const [, params = query, tail = ''] = QUERY_TAIL.exec(query) ?? []
  return params.replace(QUERY_PARAM, (param: string, separator: string, name: string, value?: string) =>
    // A bare `?secret` is all value.
    value === undefined ? `${separator}${REDACTED}` : PUBLIC_PARAMS.test(name) ? param : `${separator}${name}=${REDACTED}`) + tail
}

const shownOnce = new Set<string>()

/**
 * Lets `text` through the next time it is printed, once, as it is (the rest of its line is still
 * redacted): for a secret meant for the person at the terminal, such as the demo user's API token
 * that `npm run dev` prints. Anything printed later holding the same text is redacted as usual.
 */
export function showInLogOnce(text: string): void {
  shownOnce.add(text)
}

export function redact(text: string): string {
  const kept = [...shownOnce].filter(secret => text.includes(secret))
  let out = text
  // Each kept text stands aside under a placeholder no rule matches, and is put back after.
  kept.forEach((secret, i) => {
    shownOnce.delete(secret)
    out = out.replaceAll(secret, `\u0000${i}\u0000`)
  })
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement)
  out = out.replace(URL_USER_INFO, `$1${REDACTED}@`).replace(URL_QUERY, (_url: string, base: string, query: string) => base + redactQuery(query))
  kept.forEach((secret, i) => {
    out = out.replaceAll(`\u0000${i}\u0000`, secret)
  })
  return out
}
