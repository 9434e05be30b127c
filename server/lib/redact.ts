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
 * - `Bearer …` credentials, `otp_…` API tokens and the session cookie's value.
 *
 * The shape stays readable (`token=[REDACTED]`), so a line still says what happened.
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
  [/(nuxt-session=)[^;\s"',\\]+/g, `$1${REDACTED}`]
]

export function redact(text: string): string {
  let out = text
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement)
  return out
}
