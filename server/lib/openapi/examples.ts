/**
 * The examples the API reference shows. tests/unit/openapi.test.ts parses each with the schema it
 * illustrates, so an example that no longer matches its schema fails the build.
 */

export const JOB_ID = '3f1c2a64-8d7e-4b5a-9c1d-2e3f4a5b6c7d'
export const SCHEDULE_ID = '7b9e4d21-5c3a-4f6b-8e2d-1a0b9c8d7e6f'
export const DATASET_ID = '054f17bf-1dbb-43ed-98c3-b4858093d7fc'
export const ACCOUNT_ID = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d'
export const TAG_ID = 'b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e'
export const TOKEN_ID = 'd4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f7a'
export const WEBHOOK_ID = 'e5f6a7b8-c9d0-4e1f-9a2b-3c4d5e6f7a8b'
export const DELIVERY_ID = 'msg_2KWPBGFHN3XQ7TRV9ZJMD4CE6A'

export const USER = { id: 'c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f', email: 'demo@example.com', display_name: 'Demo User' }

export const DATASET = {
  id: DATASET_ID,
  name: 'fct_transactions',
  title: 'Transactions',
  description: 'All transactions with tags and accounts',
  row_description: 'One row per transaction',
  time_grain: 'daily',
  columns: [
    { name: 'transaction_id', type: 'UUID', description: 'Unique transaction id' },
    { name: 'transaction_date', type: 'DATE', description: 'Date of the transaction' },
    { name: 'amount', type: 'DECIMAL(18,2)', description: 'Signed amount in major units: negative is spending, positive is income' }
  ],
  incremental: true
}

export const CREATE_EXPORT = {
  dataset_id: DATASET_ID,
  format: 'csv',
  start_date: '2026-01-01',
  end_date: '2026-03-31',
  account_ids: [ACCOUNT_ID],
  tag_ids: [],
  compression: 'gzip',
  columns: ['transaction_date', 'amount', 'merchant'],
  csv: { delimiter: ';', bom: true },
  row_filters: [{ column: 'amount', op: 'lt', value: -100 }, { column: 'merchant', op: 'contains', value: 'Amazon' }]
}

export const EXPORT_JOB = {
  job_id: JOB_ID,
  status: 'completed',
  dataset_id: DATASET_ID,
  dataset_name: 'fct_transactions',
  format: 'csv',
  filters: {
    start_date: '2026-01-01', end_date: '2026-03-31', account_ids: [ACCOUNT_ID], tag_ids: [],
    row_filters: [{ column: 'amount', op: 'lt', value: -100 }, { column: 'merchant', op: 'contains', value: 'Amazon' }]
  },
  compression: 'gzip',
  columns: ['transaction_date', 'amount', 'merchant'],
  limit: null,
  csv: { delimiter: ';', header: true, bom: true, formula_guard: true },
  parquet_compression: null,
  row_count: 1843,
  file_size_bytes: 20311,
  checksum_sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  progress: { phase: 'finalizing', percent: 100, rows: 1843, bytes_uploaded: 20311 },
  error: null,
  attempts: 1,
  queue_position: null,
  download_url: 'https://outport-exports.s3.eu-west-2.amazonaws.com/exports/3f1c2a64.csv.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=5d41402abc4b2a76b9719d911017c592',
  expires_at: '2026-11-30T13:00:05.000Z',
  file_expires_at: '2026-12-01T12:00:05.000Z',
  created_at: '2026-11-30T12:00:00.000Z',
  source: 'api',
  started_at: '2026-11-30T12:00:01.000Z',
  completed_at: '2026-11-30T12:00:05.000Z',
  schedule_id: null,
  scheduled_for: null,
  schedule_run: null,
  deleted_at: null,
  data_as_of: null,
  incremental_from: null,
  max_part_mb: null,
  max_part_rows: null,
  parts: null,
  manifest_url: null,
  deliveries: [{
    destination_id: 'a7b8c9d0-e1f2-4a3b-8c4d-5e6f7a8b9c0d',
    name: 'Data lake',
    type: 's3',
    status: 'delivered',
    attempts: 1,
    location: 's3://acme-data-lake/outport/fct_transactions/2026/11/30/fct_transactions_2026-01-01_to_2026-03-31.csv.gz',
    error: null,
    delivered_at: '2026-11-30T12:00:09.000Z',
    next_attempt_at: null
  }]
}

/** The answer to deleting the completed export above: the file is gone, the job stays. */
export const DELETED_EXPORT_JOB = {
  ...EXPORT_JOB,
  status: 'deleted',
  download_url: null,
  expires_at: null,
  file_expires_at: null,
  deleted_at: '2026-11-30T15:30:00.000Z'
}

export const PREVIEW = {
  columns: [{ name: 'transaction_date', type: 'DATE' }, { name: 'amount', type: 'DECIMAL(18,2)' }, { name: 'merchant', type: 'VARCHAR' }],
  rows: [{ transaction_date: '2026-01-02', amount: '-12.50', merchant: 'Corner Shop' }],
  row_count: 1843,
  estimated_bytes: 20480,
  histogram: [{ bucket: '2026-01-01', rows: 640 }, { bucket: '2026-02-01', rows: 581 }, { bucket: '2026-03-01', rows: 622 }],
  histogram_grain: 'month',
  estimated_parts: 1
}

export const CREATE_SCHEDULE = {
  dataset_id: DATASET_ID,
  format: 'csv',
  account_ids: [],
  tag_ids: [],
  row_filters: [{ column: 'currency', op: 'in', value: ['EUR', 'GBP'] }],
  range: 'previous_week',
  cadence: { frequency: 'weekly', weekday: 1, time: '08:00', time_zone: 'Europe/London' },
  name: 'Weekly transactions',
  enabled: true,
  channels: { telegram: false, email: true }
}

export const SCHEDULE = {
  id: SCHEDULE_ID,
  name: 'Weekly transactions',
  enabled: true,
  paused_reason: null,
  request: { dataset_id: DATASET_ID, format: 'csv', account_ids: [], tag_ids: [], row_filters: [{ column: 'currency', op: 'in', value: ['EUR', 'GBP'] }] },
  range: 'previous_week',
  cadence: { frequency: 'weekly', time: '08:00', weekday: 1, time_zone: 'Europe/London' },
  channels: { telegram: false, email: true },
  next_run_at: '2026-12-07T08:00:00.000Z',
  last_run: { job_id: JOB_ID, status: 'completed', at: '2026-11-30T08:00:00.000Z' },
  recent_runs: [{ id: JOB_ID, status: 'completed', created_at: '2026-11-30T08:00:01.000Z' }],
  consecutive_failures: 0,
  created_at: '2026-11-01T10:00:00.000Z',
  updated_at: '2026-11-01T10:00:00.000Z',
  watermark: null,
  missed_slots: 0
}

export const BACKFILL_ID = 'a9b8c7d6-e5f4-4a3b-8c2d-1e0f9a8b7c6d'

export const BACKFILL = {
  backfill_id: BACKFILL_ID,
  start: '2026-11-01T00:00:00.000Z',
  end: '2026-11-29T00:00:00.000Z',
  slots: 4,
  done: 2,
  failed: 0,
  pending: 2,
  cancelled_at: null,
  created_at: '2026-12-01T09:00:00.000Z'
}

export const API_TOKEN = {
  id: TOKEN_ID,
  name: 'CI pipeline',
  prefix: 'otp_k3J9xQ2m',
  created_at: '2026-11-01T09:00:00.000Z',
  last_used_at: '2026-11-30T12:00:00.000Z',
  expires_at: '2027-11-01T09:00:00.000Z',
  expired: false,
  scopes: ['exports:read', 'exports:write', 'schedules:write']
}

export const AUDIT_EVENT = {
  id: 'f6a7b8c9-d0e1-4f2a-8b3c-4d5e6f7a8b9c',
  action: 'export.created',
  object_id: JOB_ID,
  token_id: TOKEN_ID,
  ip: '203.0.113.7',
  user_agent: 'curl/8.5.0',
  details: { dataset_id: DATASET_ID, format: 'csv' },
  subjects: [
    { kind: 'export', id: JOB_ID, name: 'Transactions · CSV', exists: true },
    { kind: 'dataset', id: DATASET_ID, name: 'Transactions', exists: true }
  ],
  created_at: '2026-11-30T12:00:00.000Z'
}

export const NOTIFICATION_SETTINGS = {
  telegram: { completed: true, failed: true, schedule_paused: true, available: true, unavailable_reason: null },
  email: { completed: false, failed: true, schedule_paused: true, available: false, unavailable_reason: 'This server has no mail server set up (SMTP_URL).', address: USER.email },
  slack: { completed: true, failed: true, schedule_paused: false, available: true, unavailable_reason: null, webhook_url: 'https://hooks.slack.com/…Xw9Q' }
}

export const CREATE_WEBHOOK = {
  url: 'https://hooks.example.com/outport',
  events: ['export.completed', 'export.failed'],
  description: 'Data team pipeline'
}

export const WEBHOOK = {
  id: WEBHOOK_ID,
  ...CREATE_WEBHOOK,
  enabled: true,
  disabled_reason: null,
  created_at: '2026-11-01T09:30:00.000Z'
}

export const WEBHOOK_DELIVERY = {
  id: DELIVERY_ID,
  event: 'export.completed',
  status: 'delivered',
  attempts: 1,
  status_code: 200,
  latency_ms: 143,
  error: null,
  created_at: '2026-11-30T12:00:05.000Z',
  delivered_at: '2026-11-30T12:00:05.000Z',
  next_attempt_at: null
}

/** A test `ping` as POST /api/webhooks/{id}/test answers it: queued, not yet sent. */
export const WEBHOOK_PING = {
  ...WEBHOOK_DELIVERY,
  id: 'msg_7YB3QK2M9WDXRT4HV6NPCJFG8E',
  event: 'ping',
  status: 'pending',
  attempts: 0,
  status_code: null,
  latency_ms: null,
  delivered_at: null,
  created_at: '2026-11-30T14:00:00.000Z',
  next_attempt_at: '2026-11-30T14:00:00.000Z'
}

export const READY = {
  status: 'ok',
  checks: { database: { ok: true }, warehouse: { ok: true }, storage: { ok: true } }
} as const

export const VALIDATION_ERROR = {
  error: true,
  url: '/api/analytics/exports',
  statusCode: 400,
  statusMessage: 'Validation Error',
  message: 'Invalid request: format: Must be one of: "csv", "parquet", "jsonl", "json", "xlsx"',
  data: { errors: [{ field: 'format', message: 'Must be one of: "csv", "parquet", "jsonl", "json", "xlsx"' }] }
}

export const NOT_FOUND = {
  error: true,
  url: `/api/analytics/exports/${JOB_ID}`,
  statusCode: 404,
  statusMessage: 'Not Found',
  message: 'Export not found'
}

/** Two events of GET /api/analytics/exports/events, and a heartbeat between them. */
export const EXPORT_EVENTS = [
  'retry: 3000',
  '',
  'id: 41',
  'event: export',
  `data: ${JSON.stringify({ ...EXPORT_JOB, status: 'running', completed_at: null, download_url: null, expires_at: null, file_expires_at: null })}`,
  '',
  ': heartbeat',
  '',
  'id: 42',
  'event: export',
  `data: ${JSON.stringify({ ...EXPORT_JOB, download_url: null, expires_at: null })}`,
  '',
  ''
].join('\n')

export const DESTINATION_ID = 'a7b8c9d0-e1f2-4a3b-8c4d-5e6f7a8b9c0d'

/** Credentials in examples are placeholders: never real keys, never shown back. */
export const CREATE_DESTINATION = {
  name: 'Data lake',
  type: 's3',
  config: { bucket: 'acme-data-lake', prefix: 'outport/{dataset}/{yyyy}/{mm}/{dd}/{filename}', region: 'eu-west-1', sse: 'aws:kms', kms_key_id: 'alias/data-lake' },
  credentials: { role_arn: 'arn:aws:iam::123456789012:role/outport-delivery' }
}

export const DESTINATION_TEST = {
  ok: true,
  steps: [
    { step: 'credentials', ok: true, message: 'Assumed arn:aws:iam::123456789012:role/outport-delivery with your ExternalId', ms: 412 },
    { step: 'bucket', ok: true, message: 'Bucket acme-data-lake is reachable', ms: 0 },
    { step: 'write', ok: true, message: 'Wrote s3://acme-data-lake/outport/.outport-test-1f0e5c2a-9b7d-4c3e-8a1f-2d3c4b5a6f70 (encrypted with aws:kms)', ms: 96 },
    { step: 'delete', ok: true, message: 'Deleted the marker', ms: 41 }
  ],
  host_key_sha256: null,
  tested_at: '2026-11-30T11:00:00.000Z'
}

export const DESTINATION = {
  id: DESTINATION_ID,
  name: 'Data lake',
  type: 's3',
  config: { bucket: 'acme-data-lake', prefix: 'outport/{dataset}/{yyyy}/{mm}/{dd}/{filename}', region: 'eu-west-1', endpoint: null, force_path_style: false, sse: 'aws:kms', kms_key_id: 'alias/data-lake' },
  credentials: { kind: 'role_arn', hint: 'arn:aws:iam::123456789012:role/outport-delivery' },
  last_test: DESTINATION_TEST,
  created_at: '2026-11-30T10:55:00.000Z',
  updated_at: '2026-11-30T10:55:00.000Z'
}

export const SFTP_DESTINATION = {
  id: 'b8c9d0e1-f2a3-4b4c-9d5e-6f7a8b9c0d1e',
  name: 'Vendor drop',
  type: 'sftp',
  config: { host: 'sftp.vendor.example', port: 22, path: '/incoming/{schedule}/{filename}', username: 'acme', host_key_sha256: 'SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8' },
  credentials: { kind: 'private_key', hint: 'OPENSSH key' },
  last_test: null,
  created_at: '2026-11-30T10:58:00.000Z',
  updated_at: '2026-11-30T10:58:00.000Z'
}

export const DESTINATION_EXTERNAL_ID = {
  external_id: 'outport-5f1d0c3e9a7b4e2f8c6d1a0b9e8f7a6c',
  principal_arn: 'arn:aws:iam::210987654321:role/outport-worker',
  trust_policy: JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::210987654321:role/outport-worker' }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': 'outport-5f1d0c3e9a7b4e2f8c6d1a0b9e8f7a6c' } } }]
  }, null, 2)
}
