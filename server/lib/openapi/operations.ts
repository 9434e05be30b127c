import { z } from 'zod'
import { ApiErrorSchema, NamedItemListSchema, OkSchema } from '#shared/types/api'
import { AuditEventListSchema, ListAuditQuerySchema } from '#shared/types/audit'
import { LoginSchema, LogoutAllSchema, UserResponseSchema } from '#shared/types/auth'
import { DatasetCoverageListSchema, DatasetListSchema } from '#shared/types/datasets'
import { CreateExportSchema, DownloadQuerySchema, ExportCreatedSchema, ExportEventsQuerySchema, ExportJobSchema, ExportListSchema, ExportPreviewSchema, ListExportsQuerySchema } from '#shared/types/exports'
import { formatTable, FormatTableSchema } from '#shared/types/format-table'
import { OnboardingSchema } from '#shared/types/onboarding'
import { LivenessSchema, ReadinessSchema } from '#shared/types/health'
import {
  CreatedWebhookSchema, CreateWebhookSchema, NotificationChannelsSchema, NotificationSettingsSchema, UpdateNotificationSettingsSchema,
  WebhookDeliveryListSchema, WebhookDeliverySchema, WebhookEndpointListSchema
} from '#shared/types/notifications'
import {
  CreateDestinationSchema, DestinationExternalIdSchema, DestinationListSchema, DestinationSchema, DestinationTestResultSchema, UpdateDestinationSchema
} from '#shared/types/destinations'
import { BackfillCreatedSchema, BackfillListSchema, CreateBackfillSchema, CreateScheduleSchema, ResetScheduleSchema, ScheduleListSchema, ScheduleSchema, UpdateScheduleSchema } from '#shared/types/schedules'
import { TelegramLinkSchema, TelegramStatusSchema, TelegramUnlinkedSchema, TelegramUpdateSchema } from '#shared/types/telegram'
import { ApiTokenListSchema, CreateApiTokenSchema, CreatedApiTokenSchema, RevokedApiTokenSchema, type TokenScope } from '#shared/types/tokens'
import * as examples from './examples'

/**
 * One entry per route: `'METHOD /path'` (path parameters as `{name}`, as the file's `[name]`) →
 * what it is for, who may call it, what it takes and what it answers. Request schemas are the ones
 * the route validates with; response schemas are the DTO schemas in shared/types/. The 400, 401,
 * 403, 413 and 503 answers every route of a kind shares are added by ./document.ts; list here only
 * the route's own errors. tests/unit/openapi.test.ts fails when a file under server/api/ or
 * server/routes/ has no entry, or an entry no file.
 */

/**
 * user: session cookie or API token; session: the session cookie only (an API token gets 403:
 * requireSessionUser() in server/utils/auth.ts); public: nobody; the others: the route's own
 * credential.
 */
export type Auth = 'user' | 'session' | 'public' | 'telegramSecret' | 'metricsToken' | 'downloadToken'

export interface ResponseDoc {
  description: string
  schema?: z.ZodType
  /** application/json unless given. */
  contentType?: string
  headers?: z.ZodObject
  /** Checked against `schema` by tests/unit/openapi.test.ts. */
  example?: unknown
}

export interface OperationDoc {
  summary: string
  description?: string
  tag: TagName
  auth: Auth
  /**
   * `user` routes: the scope an API token needs (the one the route passes to requireUser()), or
   * null when any valid token will do. Every `user` route says which (tests/unit/openapi.test.ts).
   */
  scope?: TokenScope | null
  params?: z.ZodObject
  query?: z.ZodObject
  headers?: z.ZodObject
  body?: { schema: z.ZodType, example?: unknown }
  responses: Record<number, ResponseDoc>
  /** The route's own error statuses → when. */
  errors?: Record<number, string>
  /** When the route's errors are not JSON (the signed link's HTML pages). */
  errorContentType?: string
  deprecated?: boolean
}

export const TAGS = [
  { name: 'Auth', description: 'Sign-in, sign-out and the caller' },
  { name: 'Datasets', description: 'What can be exported, and the caller\'s accounts and tags to filter by' },
  { name: 'Exports', description: 'One-off export jobs: create, preview, follow, download, cancel' },
  { name: 'Schedules', description: 'Recurring exports: a saved request, a relative date range and a cadence' },
  { name: 'Notifications', description: 'Which channels announce finished exports: Telegram, email and webhooks' },
  { name: 'Telegram', description: 'Notifications in a Telegram chat' },
  { name: 'Webhooks', description: 'Signed HTTP callbacks (Standard Webhooks) for export and schedule events, and their deliveries' },
  { name: 'Destinations', description: 'The caller\'s own S3 buckets, Azure containers and SFTP servers that exports are delivered to' },
  { name: 'Tokens', description: 'Personal API tokens for `Authorization: Bearer <token>`; managed from the app\'s session only' },
  { name: 'Audit', description: 'The caller\'s own activity: exports, downloads, tokens, sign-ins' },
  { name: 'Operations', description: 'Health, metrics and this document' }
] as const

export type TagName = typeof TAGS[number]['name']

const exportId = z.object({ id: z.guid().meta({ description: 'The export\'s `job_id`', example: examples.JOB_ID }) })
const scheduleId = z.object({ id: z.guid().meta({ description: 'The schedule\'s `id`', example: examples.SCHEDULE_ID }) })
const backfillId = scheduleId.extend({ backfill_id: z.guid().meta({ description: 'The backfill\'s `backfill_id`', example: examples.BACKFILL_ID }) })
const tokenId = z.object({ id: z.guid().meta({ description: 'The token\'s `id`', example: examples.TOKEN_ID }) })
const destinationId = z.object({ id: z.guid().meta({ description: 'The destination\'s `id`', example: examples.DESTINATION_ID }) })
const webhookId = z.object({ id: z.guid().meta({ description: 'The endpoint\'s `id`', example: examples.WEBHOOK_ID }) })

const NO_DATASET = 'No dataset has this `dataset_id`, or a `destination_ids` entry is not one of the caller\'s destinations (`data.errors` names the field)'

const redirect = (description: string): ResponseDoc => ({
  description,
  headers: z.object({ location: z.url().meta({ description: 'A presigned S3 URL, fresh for this request' }) })
})

// A multi-part export's download (issue 27).
const ZIP_RESPONSE: ResponseDoc = {
  description: 'A multi-part export without `part`: a ZIP of every part, then the manifest',
  contentType: 'application/zip',
  schema: z.string().meta({ format: 'binary' })
}

export const OPERATIONS = {
  'POST /api/auth/login': {
    summary: 'Sign in',
    description: 'Checks the email and password and sets the sealed session cookie (`nuxt-session`, SESSION_MAX_AGE_HOURS).',
    tag: 'Auth',
    auth: 'public',
    body: { schema: LoginSchema, example: { email: 'demo@example.com', password: 'correct horse battery staple' } },
    responses: {
      200: {
        description: 'Signed in; the answer carries Set-Cookie',
        schema: UserResponseSchema,
        headers: z.object({ 'set-cookie': z.string().meta({ description: 'The session cookie' }) }),
        example: { user: examples.USER }
      }
    },
    errors: {
      401: 'Wrong email or password, or the user is disabled',
      429: 'Too many attempts from this address (LOGIN_MAX_ATTEMPTS_PER_IP), for this email from this address (LOGIN_MAX_FAILURES_PER_EMAIL) or for this email from anywhere (LOGIN_MAX_FAILURES_PER_EMAIL_GLOBAL) in 15 minutes; Retry-After says when to try again'
    }
  },
  'POST /api/auth/logout': {
    summary: 'Sign out',
    description: 'Ends this session server-side (a saved copy of the cookie is refused afterwards) and removes the cookie.',
    tag: 'Auth',
    auth: 'public',
    responses: { 200: { description: 'Signed out (also without a session)', schema: OkSchema, example: { ok: true } } }
  },
  'POST /api/auth/logout-all': {
    summary: 'Sign out everywhere',
    description: 'Ends every session of the caller, this one included. API tokens keep working.',
    tag: 'Auth',
    auth: 'user',
    scope: null,
    responses: { 200: { description: 'Sessions ended', schema: LogoutAllSchema, example: { ok: true, sessions_ended: 2 } } }
  },
  'GET /api/auth/me': {
    summary: 'The caller',
    tag: 'Auth',
    auth: 'user',
    scope: null,
    responses: { 200: { description: 'The signed-in user', schema: UserResponseSchema, example: { user: examples.USER } } }
  },
  'GET /api/analytics/datasets': {
    summary: 'List datasets',
    description: 'Every dataset with its columns (the names `columns` accepts).',
    tag: 'Datasets',
    auth: 'user',
    scope: 'exports:read',
    responses: { 200: { description: 'The datasets', schema: DatasetListSchema, example: { datasets: [examples.DATASET] } } }
  },
  'GET /api/analytics/datasets/coverage': {
    summary: 'Date coverage of the datasets',
    description: 'For each dataset: the first and last dates it has the caller\'s rows on (by its date column), how many rows an export of all dates would have, when the newest of those rows reached the warehouse, the caller\'s newest export of it and how many of the caller\'s schedules export it.',
    tag: 'Datasets',
    auth: 'user',
    scope: 'exports:read',
    responses: {
      200: {
        description: 'The coverage',
        schema: DatasetCoverageListSchema,
        example: {
          coverage: [{
            dataset_id: examples.DATASET_ID, start_date: '2024-01-02', end_date: '2026-11-30', row_count: 48210, updated_at: '2026-12-07T06:00:00.000Z',
            last_export: { job_id: examples.JOB_ID, format: 'csv', status: 'completed', created_at: '2026-12-06T15:30:00.000Z' }, schedule_count: 1
          }]
        }
      }
    },
    errors: { 503: 'PostgreSQL or the warehouse is unreachable (Retry-After)' }
  },
  'GET /api/onboarding': {
    summary: 'The "Get started" steps',
    description: 'The four first steps (an export, a notification channel, a schedule, an API token), each done when the caller\'s own rows show it, and whether the caller closed the card.',
    tag: 'Datasets',
    auth: 'user',
    scope: 'exports:read',
    responses: { 200: { description: 'The steps', schema: OnboardingSchema, example: { dismissed: false, steps: [{ id: 'export', done: true }, { id: 'notifications', done: false }, { id: 'schedule', done: false }, { id: 'token', done: true }] } } }
  },
  'POST /api/onboarding/dismiss': {
    summary: 'Close the "Get started" card',
    description: 'For good, for the caller only (other users still see theirs); calling it again changes nothing.',
    tag: 'Datasets',
    auth: 'user',
    scope: 'exports:read',
    responses: { 204: { description: 'Closed' } }
  },
  'GET /api/analytics/formats': {
    summary: 'List export formats',
    description: 'The format table as data, to build an export form from: each format\'s extension and content type, its whole-file compressions, Parquet\'s codecs, the CSV options with their defaults, the row limit.',
    tag: 'Datasets',
    auth: 'user',
    scope: 'exports:read',
    responses: { 200: { description: 'The formats', schema: FormatTableSchema, example: formatTable() } }
  },
  'GET /api/accounts': {
    summary: 'List the caller\'s accounts',
    description: 'For `account_ids`; sorted by name.',
    tag: 'Datasets',
    auth: 'user',
    scope: 'exports:read',
    responses: { 200: { description: 'The accounts', schema: NamedItemListSchema, example: [{ id: examples.ACCOUNT_ID, name: 'Current account' }] } }
  },
  'GET /api/tags': {
    summary: 'List the caller\'s tags',
    description: 'For `tag_ids`; sorted by name.',
    tag: 'Datasets',
    auth: 'user',
    scope: 'exports:read',
    responses: { 200: { description: 'The tags', schema: NamedItemListSchema, example: [{ id: examples.TAG_ID, name: 'Groceries' }] } }
  },
  'POST /api/analytics/exports': {
    summary: 'Create an export',
    description: 'Queues an export job; follow it with GET /api/analytics/exports/{id}. With an `Idempotency-Key`, repeating the request answers the first job (`Idempotent-Replayed: true`).',
    tag: 'Exports',
    auth: 'user',
    scope: 'exports:write',
    headers: z.object({
      'idempotency-key': z.string().min(1).max(255).optional().meta({ description: '1-255 printable ASCII characters; the same key and body give the same job' })
    }),
    body: { schema: CreateExportSchema, example: examples.CREATE_EXPORT },
    responses: {
      202: {
        description: 'Queued',
        schema: ExportCreatedSchema,
        headers: z.object({ 'idempotent-replayed': z.literal('true').optional() }),
        example: { job_id: examples.JOB_ID, status: 'pending', message: 'Export job created' }
      }
    },
    errors: {
      400: 'Invalid input (`data.errors`, each naming its field: a row filter\'s as `row_filters[2].op`), or an Excel export with more rows than a sheet holds',
      404: NO_DATASET,
      422: 'The Idempotency-Key was used with a different request',
      429: 'The caller has EXPORT_MAX_ACTIVE_PER_USER exports pending or running',
      503: 'The queue is full (EXPORT_MAX_QUEUE_DEPTH), or PostgreSQL, the warehouse or storage is unreachable (Retry-After)'
    }
  },
  'POST /api/analytics/exports/preview': {
    summary: 'Preview an export',
    description: 'What an export with this body would produce: columns, the first rows, the row count and the estimated size. Validated exactly as creating one; creates nothing.',
    tag: 'Exports',
    auth: 'user',
    scope: 'exports:write',
    body: { schema: CreateExportSchema, example: examples.CREATE_EXPORT },
    responses: { 200: { description: 'The preview', schema: ExportPreviewSchema, example: examples.PREVIEW } },
    errors: { 404: NO_DATASET }
  },
  'GET /api/analytics/exports': {
    summary: 'List exports',
    description: 'The caller\'s exports, newest first, a page at a time; the filters given all apply (`status` takes a comma-separated list).',
    tag: 'Exports',
    auth: 'user',
    scope: 'exports:read',
    query: ListExportsQuerySchema,
    responses: { 200: { description: 'A page of exports', schema: ExportListSchema, example: { exports: [examples.EXPORT_JOB], next_cursor: null } } }
  },
  'GET /api/analytics/exports/events': {
    summary: 'Follow exports live',
    description: [
      'Server-Sent Events (`text/event-stream`): an `export` event for every change of one of the caller\'s exports (created, each progress write, each status change), its `data` the export as `GET /api/analytics/exports/{id}` shows it but without `download_url` and `expires_at` (read the export once it is completed), a `: heartbeat` comment every EXPORT_EVENTS_HEARTBEAT_SECONDS.',
      'Each event\'s `id` is a cursor: send the last one back as `Last-Event-ID` (EventSource does) and the stream starts with every export changed since (and perhaps some you saw: keep each export\'s newest state), each as it is now, so nothing is missed. Without it, a stream of one export (`job_id`) starts with that export as it is; a stream of all of them with the next change.',
      'The stream ends when the session is signed out or the token revoked (within EXPORT_EVENTS_AUTH_CHECK_SECONDS) and when the server restarts; reconnect with `Last-Event-ID`, and poll the export meanwhile.'
    ].join('\n\n'),
    tag: 'Exports',
    auth: 'user',
    scope: 'exports:read',
    query: ExportEventsQuerySchema,
    headers: z.object({
      'last-event-id': z.string().regex(/^\d{1,18}$/).optional().meta({ description: 'The id of the last event received: resume after it' })
    }),
    responses: { 200: { description: 'The stream (open until the client leaves)', contentType: 'text/event-stream', schema: z.string(), example: examples.EXPORT_EVENTS } },
    errors: { 404: 'No such export of the caller\'s (`job_id`)', 503: 'The database is unavailable, or this server cannot listen for changes right now: poll instead' }
  },
  'GET /api/analytics/exports/{id}': {
    summary: 'Get an export',
    description: 'Status, progress and result; a completed export carries a presigned `download_url` minted for this read (EXPORT_URL_TTL_SECONDS).',
    tag: 'Exports',
    auth: 'user',
    scope: 'exports:read',
    params: exportId,
    responses: { 200: { description: 'The export', schema: ExportJobSchema, example: examples.EXPORT_JOB } },
    errors: { 404: 'No such export of the caller\'s' }
  },
  'GET /api/analytics/exports/{id}/download': {
    summary: 'Download an export',
    description: 'Redirects to a fresh presigned URL of the file. A multi-part export (`parts` not null) answers with one ZIP of every part and the manifest, streamed (stored entries, ZIP64 past 4 GiB), or with `?part=N` redirects to that part.',
    tag: 'Exports',
    auth: 'user',
    scope: 'exports:read',
    params: exportId,
    query: DownloadQuerySchema,
    responses: { 200: ZIP_RESPONSE, 302: redirect('To the file, or to part N') },
    errors: { 400: 'An unknown query parameter, or `part` is not a part number of this export (or the export is one file)', 404: 'No such export of the caller\'s', 409: 'Not completed (yet)', 410: 'Expired: the file was removed (EXPORT_RETENTION_HOURS)' }
  },
  'POST /api/analytics/exports/{id}/cancel': {
    summary: 'Cancel an export',
    description: 'A pending or running export becomes `cancelled`.',
    tag: 'Exports',
    auth: 'user',
    scope: 'exports:write',
    params: exportId,
    responses: { 200: { description: 'The cancelled export', schema: ExportJobSchema, example: { ...examples.EXPORT_JOB, status: 'cancelled', download_url: null, expires_at: null, file_expires_at: null, row_count: null, file_size_bytes: null, checksum_sha256: null } } },
    errors: { 404: 'No such export of the caller\'s', 409: 'Already finished: `data.status` says how' }
  },
  'DELETE /api/analytics/exports/{id}': {
    summary: 'Delete an export',
    description: 'Removes the file from storage now; the job stays in the history as `deleted` (its download answers 410). A pending or running export is cancelled first. Deleting a deleted export answers it again.',
    tag: 'Exports',
    auth: 'user',
    scope: 'exports:write',
    params: exportId,
    responses: { 200: { description: 'The deleted export', schema: ExportJobSchema, example: examples.DELETED_EXPORT_JOB } },
    errors: {
      404: 'No such export of the caller\'s',
      409: 'The export changed while it was being deleted; try again',
      503: 'The file could not be deleted from storage (Retry-After: 30; the export is unchanged), or PostgreSQL is unreachable'
    }
  },
  'POST /api/analytics/schedules': {
    summary: 'Create a schedule',
    description: 'A recurring export: the body of POST /api/analytics/exports without the dates, plus `range`, `cadence`, `name` and `enabled`.',
    tag: 'Schedules',
    auth: 'user',
    scope: 'schedules:write',
    body: { schema: CreateScheduleSchema, example: examples.CREATE_SCHEDULE },
    responses: { 201: { description: 'Created', schema: ScheduleSchema, example: examples.SCHEDULE } },
    errors: { 400: 'Invalid input (`data.errors`), or the caller already has SCHEDULES_MAX_PER_USER schedules', 404: NO_DATASET }
  },
  'GET /api/analytics/schedules': {
    summary: 'List schedules',
    description: 'The caller\'s schedules, oldest first.',
    tag: 'Schedules',
    auth: 'user',
    scope: 'exports:read',
    responses: { 200: { description: 'The schedules', schema: ScheduleListSchema, example: { schedules: [examples.SCHEDULE] } } }
  },
  'GET /api/analytics/schedules/{id}': {
    summary: 'Get a schedule',
    tag: 'Schedules',
    auth: 'user',
    scope: 'exports:read',
    params: scheduleId,
    responses: { 200: { description: 'The schedule', schema: ScheduleSchema, example: examples.SCHEDULE } },
    errors: { 404: 'No such schedule of the caller\'s' }
  },
  'PATCH /api/analytics/schedules/{id}': {
    summary: 'Change a schedule',
    description: 'Any field of the create body, each replacing the saved one (the export request\'s fields too: `format`, `columns`, `row_filters`…; `null` clears one back to its default); `enabled: false` pauses, `true` resumes from now (paused slots are not caught up).',
    tag: 'Schedules',
    auth: 'user',
    scope: 'schedules:write',
    params: scheduleId,
    body: { schema: UpdateScheduleSchema, example: { format: 'parquet', columns: null, row_filters: [{ column: 'amount', op: 'lt', value: -100 }] } },
    responses: { 200: { description: 'The changed schedule', schema: ScheduleSchema, example: { ...examples.SCHEDULE, request: { ...examples.SCHEDULE.request, format: 'parquet', columns: null, row_filters: [{ column: 'amount', op: 'lt', value: -100 }] } } } },
    errors: { 404: 'No such schedule of the caller\'s' }
  },
  'DELETE /api/analytics/schedules/{id}': {
    summary: 'Delete a schedule',
    description: 'Its runs stay in the export history (their `schedule_id` becomes null).',
    tag: 'Schedules',
    auth: 'user',
    scope: 'schedules:write',
    params: scheduleId,
    responses: { 204: { description: 'Deleted' } },
    errors: { 404: 'No such schedule of the caller\'s' }
  },
  'POST /api/analytics/schedules/{id}/run': {
    summary: 'Run a schedule now',
    description: 'One run outside the cadence (it counts as a run; `next_run_at` is unchanged).',
    tag: 'Schedules',
    auth: 'user',
    scope: 'schedules:write',
    params: scheduleId,
    responses: { 202: { description: 'Queued (or, when its filters are gone, failed at once)', schema: ExportCreatedSchema, example: { job_id: examples.JOB_ID, status: 'pending', message: 'Export job created' } } },
    errors: {
      404: 'No such schedule of the caller\'s',
      409: 'The schedule was run a moment ago by another request; try again',
      429: 'The caller has EXPORT_MAX_ACTIVE_PER_USER exports pending or running'
    }
  },
  'POST /api/analytics/schedules/{id}/reset': {
    summary: 'Reset an incremental schedule\'s watermark',
    description: 'For a schedule whose range is `since_last_run`: its next run exports the rows loaded after `watermark` (null: the next run is a first run, with the range\'s `initial`). A run under way keeps its window and then leaves the reset watermark alone. Audited (`schedule.watermark_reset`).',
    tag: 'Schedules',
    auth: 'user',
    scope: 'schedules:write',
    params: scheduleId,
    body: { schema: ResetScheduleSchema, example: { watermark: '2026-12-01T00:00:00Z' } },
    responses: { 200: { description: 'The schedule with its new watermark', schema: ScheduleSchema, example: { ...examples.SCHEDULE, range: { type: 'since_last_run', initial: 'all' }, watermark: '2026-12-01T00:00:00.000000Z' } } },
    errors: { 400: 'Invalid input (`data.errors`), or the schedule is not incremental', 404: 'No such schedule of the caller\'s' }
  },
  'POST /api/analytics/schedules/{id}/backfill': {
    summary: 'Backfill a schedule',
    description: 'One run for each slot of the schedule\'s cadence in [start, end), each with the range it would have had at its slot (in the cadence\'s time zone, daylight saving days included). A slot that already has a run (the cadence\'s, or an earlier backfill\'s) is not added again. The runs start one at a time, behind the caller\'s own exports and within EXPORT_MAX_ACTIVE_PER_USER. Audited (`schedule.backfill_created`).',
    tag: 'Schedules',
    auth: 'user',
    scope: 'schedules:write',
    params: scheduleId,
    body: { schema: CreateBackfillSchema, example: { start: '2026-11-01T00:00:00Z', end: '2026-11-29T00:00:00Z' } },
    responses: { 202: { description: 'Accepted: the slots are queued', schema: BackfillCreatedSchema, example: { backfill_id: examples.BACKFILL_ID, slots: 4 } } },
    errors: { 400: 'Invalid input (`data.errors`): end not after start or in the future, more than SCHEDULES_BACKFILL_MAX_SLOTS slots, or an incremental schedule (reset its watermark instead)', 404: 'No such schedule of the caller\'s' }
  },
  'GET /api/analytics/schedules/{id}/backfills': {
    summary: 'List a schedule\'s backfills',
    description: 'Newest first, each with its runs counted: done, failed (or cancelled), pending (waiting or running).',
    tag: 'Schedules',
    auth: 'user',
    scope: 'exports:read',
    params: scheduleId,
    responses: { 200: { description: 'The backfills', schema: BackfillListSchema, example: { backfills: [examples.BACKFILL] } } },
    errors: { 404: 'No such schedule of the caller\'s' }
  },
  'DELETE /api/analytics/schedules/{id}/backfills/{backfill_id}': {
    summary: 'Cancel a backfill',
    description: 'Cancels the runs that have not started (slots still waiting, runs queued); runs under way finish. Audited (`schedule.backfill_cancelled`).',
    tag: 'Schedules',
    auth: 'user',
    scope: 'schedules:write',
    params: backfillId,
    responses: { 200: { description: 'How many runs were cancelled', schema: z.object({ cancelled: z.int().min(0) }), example: { cancelled: 2 } } },
    errors: { 404: 'No such backfill of the caller\'s schedule' }
  },
  'GET /api/telegram/status': {
    summary: 'Telegram status',
    tag: 'Telegram',
    auth: 'user',
    scope: 'exports:read',
    responses: { 200: { description: 'Whether Telegram is on and the caller\'s chat connected', schema: TelegramStatusSchema, example: { enabled: true, linked: false, bot_username: 'outport_bot' } } }
  },
  'POST /api/telegram/link': {
    summary: 'Start connecting a chat',
    description: 'A one-time code (15 minutes) and the t.me deep link that sends `/start <code>` to the bot.',
    tag: 'Telegram',
    auth: 'user',
    scope: 'webhooks:write',
    responses: { 201: { description: 'The code', schema: TelegramLinkSchema, example: { code: 'k3J9xQ2m', deep_link: 'https://t.me/outport_bot?start=k3J9xQ2m', bot_username: 'outport_bot', expires_at: '2026-11-30T12:15:00.000Z' } } },
    errors: { 404: 'Telegram is not enabled on this server', 503: 'Telegram could not be reached, or PostgreSQL is unreachable' }
  },
  'DELETE /api/telegram/link': {
    summary: 'Disconnect the chat',
    tag: 'Telegram',
    auth: 'user',
    scope: 'webhooks:write',
    responses: { 200: { description: 'Disconnected (also when none was)', schema: TelegramUnlinkedSchema, example: { linked: false } } }
  },
  'POST /api/telegram/webhook': {
    summary: 'Telegram updates',
    description: 'For Telegram (TELEGRAM_MODE=webhook) only. Once authenticated the answer is always 200, so Telegram never redelivers an update.',
    tag: 'Telegram',
    auth: 'telegramSecret',
    body: { schema: TelegramUpdateSchema, example: { update_id: 1, message: { text: '/start k3J9xQ2m' } } },
    responses: { 200: { description: 'Handled (or ignored)', schema: OkSchema, example: { ok: true } } },
    errors: { 401: 'No X-Telegram-Bot-Api-Secret-Token', 403: 'A wrong X-Telegram-Bot-Api-Secret-Token', 404: 'Telegram is not enabled on this server' }
  },
  'GET /api/notifications/channels': {
    summary: 'Configured channels',
    description: 'Which notification channels this server has set up, so a client can say what is off and why.',
    tag: 'Notifications',
    auth: 'user',
    scope: 'exports:read',
    responses: { 200: { description: 'The channels', schema: NotificationChannelsSchema, example: { telegram: true, email: false, webhooks: true, slack: true } } }
  },
  'GET /api/notifications/settings': {
    summary: 'Notification settings',
    description: 'Whether completed and failed exports are announced by Telegram and by email (both, until changed). A schedule\'s own `channels` override these for its runs; webhooks follow each endpoint\'s events.',
    tag: 'Notifications',
    auth: 'user',
    scope: 'exports:read',
    responses: { 200: { description: 'The settings', schema: NotificationSettingsSchema, example: examples.NOTIFICATION_SETTINGS } }
  },
  'PATCH /api/notifications/settings': {
    summary: 'Change notification settings',
    description: 'Any subset of the settings; fields left out keep their value. `email.address` is accepted and ignored: it is the account\'s email.',
    tag: 'Notifications',
    auth: 'user',
    scope: 'webhooks:write',
    body: { schema: UpdateNotificationSettingsSchema, example: { email: { completed: false } } },
    responses: { 200: { description: 'The settings after the change', schema: NotificationSettingsSchema, example: examples.NOTIFICATION_SETTINGS } }
  },
  'GET /api/destinations': {
    summary: 'List destinations',
    description: 'The caller\'s destinations, oldest first; credentials are never returned (their kind and a hint instead).',
    tag: 'Destinations',
    auth: 'user',
    scope: 'exports:read',
    responses: { 200: { description: 'The destinations', schema: DestinationListSchema, example: { destinations: [examples.DESTINATION, examples.SFTP_DESTINATION], max_per_user: 10 } } }
  },
  'POST /api/destinations': {
    summary: 'Add a destination',
    description: 'An S3-compatible bucket, an Azure Blob container or an SFTP server. Credentials are sealed (AES-256-GCM) and never shown again. `prefix`/`path` is a template of {dataset}, {format}, {job_id}, {schedule}, {yyyy}, {mm}, {dd} and {filename}. A custom endpoint or SFTP host must be https (S3, Azure) and public unless WEBHOOK_ALLOW_HOSTS lists it, checked again at every use.',
    tag: 'Destinations',
    auth: 'user',
    scope: 'destinations:write',
    body: { schema: CreateDestinationSchema, example: examples.CREATE_DESTINATION },
    responses: { 201: { description: 'Created', schema: DestinationSchema, example: { ...examples.DESTINATION, last_test: null } } },
    errors: {
      400: 'Invalid input (`data.errors` names the field: an unknown template placeholder, both or neither kind of credentials, …)',
      409: 'The caller already has DESTINATIONS_MAX_PER_USER destinations'
    }
  },
  'GET /api/destinations/external-id': {
    summary: 'Your ExternalId for IAM roles',
    description: 'The caller\'s own sts:ExternalId (stable, made on first use) and a trust policy to paste into the IAM role an S3 destination names in `role_arn`.',
    tag: 'Destinations',
    auth: 'user',
    scope: 'exports:read',
    responses: { 200: { description: 'The ExternalId and a trust policy', schema: DestinationExternalIdSchema, example: examples.DESTINATION_EXTERNAL_ID } }
  },
  'POST /api/destinations/test': {
    summary: 'Test a destination before saving it',
    description: 'The body of POST /api/destinations; runs the same steps as testing a saved one and saves nothing (for SFTP: the server\'s fingerprint to pin, in `host_key_sha256`).',
    tag: 'Destinations',
    auth: 'user',
    scope: 'destinations:write',
    body: { schema: CreateDestinationSchema, example: examples.CREATE_DESTINATION },
    responses: { 200: { description: 'Each step\'s outcome, in order', schema: DestinationTestResultSchema, example: examples.DESTINATION_TEST } },
    errors: { 429: 'The caller ran more than DESTINATION_TESTS_PER_MINUTE tests in a minute; Retry-After says when to try again' }
  },
  'GET /api/destinations/{id}': {
    summary: 'Get a destination',
    tag: 'Destinations',
    auth: 'user',
    scope: 'exports:read',
    params: destinationId,
    responses: { 200: { description: 'The destination', schema: DestinationSchema, example: examples.DESTINATION } },
    errors: { 404: 'No such destination of the caller\'s' }
  },
  'PATCH /api/destinations/{id}': {
    summary: 'Change a destination',
    description: 'The type cannot change. `config` holds only the fields to change (null clears an optional one), checked whole after the merge; `credentials` replaces the saved ones entirely. A change to config or credentials clears `last_test`.',
    tag: 'Destinations',
    auth: 'user',
    scope: 'destinations:write',
    params: destinationId,
    body: { schema: UpdateDestinationSchema, example: { config: { prefix: 'outport/{schedule}/{yyyy}-{mm}-{dd}/{filename}' } } },
    responses: { 200: { description: 'The destination after the change', schema: DestinationSchema, example: { ...examples.DESTINATION, config: { ...examples.DESTINATION.config, prefix: 'outport/{schedule}/{yyyy}-{mm}-{dd}/{filename}' }, last_test: null } } },
    errors: { 404: 'No such destination of the caller\'s' }
  },
  'DELETE /api/destinations/{id}': {
    summary: 'Delete a destination',
    description: 'Schedules stop naming it; past deliveries keep their name and location.',
    tag: 'Destinations',
    auth: 'user',
    scope: 'destinations:write',
    params: destinationId,
    responses: { 204: { description: 'Deleted' } },
    errors: { 404: 'No such destination of the caller\'s' }
  },
  'POST /api/destinations/{id}/test': {
    summary: 'Test a destination',
    description: 'Reaches the destination step by step (s3: credentials, bucket — 403 and 404 told apart —, write a marker, delete it; azure_blob the same with the container; sftp: connect, host_key, authenticate, directory, write, delete) and records the result as `last_test`. A bucket that allows writes but not deletes passes with a note. An SFTP fingerprint is reported, never saved.',
    tag: 'Destinations',
    auth: 'user',
    scope: 'destinations:write',
    params: destinationId,
    responses: { 200: { description: 'Each step\'s outcome, in order', schema: DestinationTestResultSchema, example: examples.DESTINATION_TEST } },
    errors: {
      404: 'No such destination of the caller\'s',
      409: 'The saved credentials cannot be read (DESTINATIONS_KEY changed): enter them again',
      429: 'The caller ran more than DESTINATION_TESTS_PER_MINUTE tests in a minute; Retry-After says when to try again'
    }
  },
  'GET /api/webhooks': {
    summary: 'List webhook endpoints',
    description: 'The caller\'s endpoints, oldest first (without their secrets).',
    tag: 'Webhooks',
    auth: 'user',
    scope: 'exports:read',
    responses: { 200: { description: 'The endpoints', schema: WebhookEndpointListSchema, example: [examples.WEBHOOK] } }
  },
  'POST /api/webhooks': {
    summary: 'Add a webhook endpoint',
    description: 'The URL must be https and its host must resolve to public addresses only (WEBHOOK_ALLOW_HOSTS excepted). Deliveries are signed with the secret in this answer, shown only here.',
    tag: 'Webhooks',
    auth: 'user',
    scope: 'webhooks:write',
    body: { schema: CreateWebhookSchema, example: examples.CREATE_WEBHOOK },
    responses: { 201: { description: 'Created, with its signing secret', schema: CreatedWebhookSchema, example: { ...examples.WEBHOOK, secret: 'whsec_MfKQ9r8GKjqzVc3YoVjQ1ng4p7v2N8xk' } } },
    errors: {
      400: 'Invalid input (`data.errors`), or the URL is refused: not https, carries credentials, does not resolve, or resolves to a private or reserved address',
      409: 'The caller already has WEBHOOKS_MAX_PER_USER endpoints'
    }
  },
  'DELETE /api/webhooks/{id}': {
    summary: 'Delete a webhook endpoint',
    description: 'With its deliveries; nothing more is sent to it.',
    tag: 'Webhooks',
    auth: 'user',
    scope: 'webhooks:write',
    params: webhookId,
    responses: { 204: { description: 'Deleted' } },
    errors: { 404: 'No such endpoint of the caller\'s' }
  },
  'POST /api/webhooks/{id}/test': {
    summary: 'Send a test ping',
    description: 'Queues a `ping` delivery to the endpoint; its outcome shows in the endpoint\'s deliveries.',
    tag: 'Webhooks',
    auth: 'user',
    scope: 'webhooks:write',
    params: webhookId,
    responses: { 202: { description: 'The queued delivery', schema: WebhookDeliverySchema, example: examples.WEBHOOK_PING } },
    errors: {
      404: 'No such endpoint of the caller\'s',
      409: 'The endpoint is disabled (create it again to use it), or already has WEBHOOK_MAX_PENDING_PER_ENDPOINT deliveries waiting',
      429: 'The caller asked for more than WEBHOOK_MANUAL_SENDS_PER_MINUTE test pings and redeliveries in a minute; Retry-After says when to try again'
    }
  },
  'GET /api/webhooks/{id}/deliveries': {
    summary: 'List an endpoint\'s deliveries',
    description: 'Its 50 most recent deliveries, newest first.',
    tag: 'Webhooks',
    auth: 'user',
    scope: 'exports:read',
    params: webhookId,
    responses: { 200: { description: 'The deliveries', schema: WebhookDeliveryListSchema, example: [examples.WEBHOOK_DELIVERY] } },
    errors: { 404: 'No such endpoint of the caller\'s' }
  },
  'POST /api/webhooks/{id}/deliveries/{delivery_id}/redeliver': {
    summary: 'Redeliver',
    description: 'Queues the delivery again with the same `webhook-id` (receivers may deduplicate on it) and a fresh attempt budget.',
    tag: 'Webhooks',
    auth: 'user',
    scope: 'webhooks:write',
    params: webhookId.extend({ delivery_id: z.string().meta({ description: 'The delivery\'s `id` (`msg_…`)', example: examples.DELIVERY_ID }) }),
    responses: {
      202: {
        description: 'The delivery, queued again',
        schema: WebhookDeliverySchema,
        example: { ...examples.WEBHOOK_DELIVERY, status: 'pending', attempts: 0, delivered_at: null, next_attempt_at: '2026-11-30T15:00:00.000Z' }
      }
    },
    errors: {
      404: 'No such endpoint of the caller\'s, or no such delivery of the endpoint\'s',
      409: 'The endpoint is disabled or already has WEBHOOK_MAX_PENDING_PER_ENDPOINT deliveries waiting, or the delivery is still pending',
      429: 'The caller asked for more than WEBHOOK_MANUAL_SENDS_PER_MINUTE test pings and redeliveries in a minute; Retry-After says when to try again'
    }
  },
  'GET /api/tokens': {
    summary: 'List API tokens',
    description: 'The caller\'s tokens that were not revoked (expired ones included, marked), newest first; never their secrets.',
    tag: 'Tokens',
    auth: 'session',
    responses: { 200: { description: 'The tokens', schema: ApiTokenListSchema, example: { tokens: [examples.API_TOKEN] } } }
  },
  'POST /api/tokens': {
    summary: 'Create an API token',
    description: 'For `Authorization: Bearer <token>`. The secret is in this answer only; the server keeps its hash. `scopes` says what the token may do (default `exports:read`, `exports:write`, `schedules:write`: adding webhooks, linking Telegram and changing notification settings need `webhooks:write`, chosen explicitly).',
    tag: 'Tokens',
    auth: 'session',
    body: { schema: CreateApiTokenSchema, example: { name: 'CI pipeline', expires_in_days: 365, scopes: ['exports:read', 'exports:write', 'schedules:write'] } },
    responses: {
      201: {
        description: 'Created, with its secret',
        schema: CreatedApiTokenSchema,
        example: { ...examples.API_TOKEN, last_used_at: null, token: 'otp_k3J9xQ2mVb7Rz0pLw4YcT8nE5uHa1sDf6gJq2XkZ9oM' }
      }
    },
    errors: { 400: 'Invalid input (`data.errors`), or the caller already has API_TOKENS_MAX_PER_USER usable tokens' }
  },
  'DELETE /api/tokens/{id}': {
    summary: 'Revoke an API token',
    description: 'At once: the token\'s next request is 401.',
    tag: 'Tokens',
    auth: 'session',
    params: tokenId,
    responses: { 200: { description: 'The revoked token', schema: RevokedApiTokenSchema, example: { ...examples.API_TOKEN, revoked: true } } },
    errors: { 404: 'No such token of the caller\'s, or already revoked' }
  },
  'GET /api/audit': {
    summary: 'List the caller\'s activity',
    description: 'The caller\'s own audit events, newest first, a page at a time; `action` keeps only some kinds of event. Each event carries the objects it names (`subjects`) with their current names.',
    tag: 'Audit',
    auth: 'user',
    scope: 'exports:read',
    query: ListAuditQuerySchema,
    responses: { 200: { description: 'A page of events', schema: AuditEventListSchema, example: { events: [examples.AUDIT_EVENT], next_cursor: null } } }
  },
  'GET /api/health/live': {
    summary: 'Liveness',
    description: '200 while the process serves requests; asks no dependency.',
    tag: 'Operations',
    auth: 'public',
    responses: { 200: { description: 'Alive', schema: LivenessSchema, example: { status: 'ok' } } }
  },
  'GET /api/health/ready': {
    summary: 'Readiness',
    description: 'Database, warehouse and storage reachable; each probe\'s result is reused for 5 s.',
    tag: 'Operations',
    auth: 'public',
    responses: {
      200: { description: 'Ready', schema: ReadinessSchema, example: examples.READY },
      503: { description: 'Not ready: `checks` says which dependency failed', schema: ReadinessSchema, example: { status: 'degraded', checks: { ...examples.READY.checks, storage: { ok: false, error: 'unreachable' } } } }
    }
  },
  'GET /api/health': {
    summary: 'Readiness (the original path)',
    description: 'The same as GET /api/health/ready, kept for existing callers.',
    tag: 'Operations',
    auth: 'public',
    responses: {
      200: { description: 'Ready', schema: ReadinessSchema, example: examples.READY },
      503: { description: 'Not ready', schema: ReadinessSchema }
    }
  },
  'GET /api/openapi.json': {
    summary: 'This document',
    description: 'The OpenAPI 3.1 document of this API, built from the schemas the routes validate with. Rendered at /docs/api.',
    tag: 'Operations',
    auth: 'public',
    responses: { 200: { description: 'The OpenAPI document', schema: z.record(z.string(), z.unknown()) } }
  },
  'GET /metrics': {
    summary: 'Prometheus metrics',
    description: 'The Prometheus text format. 404 while METRICS_TOKEN is unset.',
    tag: 'Operations',
    auth: 'metricsToken',
    responses: { 200: { description: 'The metrics', contentType: 'text/plain; version=0.0.4', schema: z.string() } },
    errors: { 401: 'A missing or wrong bearer token (with WWW-Authenticate)', 404: 'METRICS_TOKEN is unset' }
  },
  'GET /exports/{id}/download': {
    summary: 'Signed download link',
    description: 'The link in Telegram messages, emails and webhooks; needs no session. Failures are small HTML pages, for people arriving from a chat. A multi-part export answers as the API\'s download does: the ZIP, or `?part=N`.',
    tag: 'Exports',
    auth: 'downloadToken',
    params: exportId,
    query: z.object({ token: z.string().meta({ description: 'The signed token from the link' }), ...DownloadQuerySchema.shape }),
    responses: { 200: ZIP_RESPONSE, 302: redirect('To the file, or to part N') },
    errors: { 403: 'A tampered token, or another job\'s', 404: '`part` is not a part number of this export', 410: 'The link or the export expired, or the file is gone' },
    errorContentType: 'text/html'
  }
} satisfies Record<`${'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'} /${string}`, OperationDoc>

// The error examples the reference shows are checked like the others.
export const ERROR_EXAMPLES = [
  { where: 'Error (400)', schema: ApiErrorSchema, example: examples.VALIDATION_ERROR },
  { where: 'Error (404)', schema: ApiErrorSchema, example: examples.NOT_FOUND }
]
