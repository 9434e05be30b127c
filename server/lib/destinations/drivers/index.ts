import type { DestinationType } from '#shared/types/destinations'
import type { Driver } from './driver'

/**
 * Every destination type's driver; a new type is a module beside these and a row here. Each is
 * imported the first time it is used: their SDKs (Azure's, ssh2, STS), with exceljs, cost an idle
 * server about 30 MB of resident memory (BENCHMARKS.md), which one whose users deliver nowhere
 * should not pay.
 */
// Each driver is typed by its own config; callers pass the config and credentials of the row's type.
const DRIVERS: Record<DestinationType, () => Promise<Driver<never, never>>> = {
  s3: () => import('./s3').then(m => m.s3Driver),
  azure_blob: () => import('./azure-blob').then(m => m.azureBlobDriver),
  sftp: () => import('./sftp').then(m => m.sftpDriver)
}

export function loadDriver(type: DestinationType): Promise<Driver<never, never>> {
  return DRIVERS[type]()
}
