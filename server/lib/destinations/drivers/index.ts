import type { DestinationType } from '#shared/types/destinations'
import { azureBlobDriver } from './azure-blob'
import type { Driver } from './driver'
import { s3Driver } from './s3'
import { sftpDriver } from './sftp'

/** Every destination type's driver; a new type is a module beside these and a row here. */
// Each driver is typed by its own config; callers pass the config and credentials of the row's type.
export const DRIVERS: Record<DestinationType, Driver<never, never>> = {
  s3: s3Driver,
  azure_blob: azureBlobDriver,
  sftp: sftpDriver
}
