import type { DestinationDTO } from '#shared/types/destinations'

/** Where a destination points, for the audit trail and account messages: never a credential. */
export function describeTarget(d: DestinationDTO): string {
  if (d.type === 's3') return `s3://${d.config.bucket}${d.config.endpoint ? ` at ${new URL(d.config.endpoint).host}` : ''}`
  if (d.type === 'azure_blob') return `${d.config.account_url.replace(/\/+$/, '')}/${d.config.container}`
  return `sftp://${d.config.username}@${d.config.host}:${d.config.port}`
}
