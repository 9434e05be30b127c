import type { Readable } from 'node:stream'
import { GetObjectCommand } from '@aws-sdk/client-s3'
import ZipStream from 'zip-stream'
import { exportManifestFilename, exportZipFilename } from '#shared/utils/filename'
import type { Storage } from '../storage/s3'
import type { ExportJob } from './jobs/record'

/** Whether the export is a completed set of parts (its download is a ZIP, or one part). */
export function isMultiPart(job: ExportJob): job is ExportJob & { metadata: { parts: NonNullable<ExportJob['metadata']['parts']>, s3_key: string } } {
  return Boolean(job.metadata.parts && job.metadata.s3_key)
}

/** The file name the ZIP of a multi-part export downloads as. */
export function zipFilename(job: ExportJob): string {
  return exportZipFilename(job.metadata)
}

/**
 * One ZIP of a multi-part export's parts, then its manifest, streamed from S3 as it is read: entries
 * are stored (the parts are compressed already, or meant to be read as they are), read one object
 * at a time with backpressure, so the server holds a few chunks whatever the set's size; ZIP64
 * records are written once an entry or an offset passes 4 GiB (compress-commons). Aborting `signal`
 * (the client went away) stops the S3 read under way and ends the stream with an error.
 */
export function exportZip(storage: Storage, job: ExportJob & { metadata: { parts: NonNullable<ExportJob['metadata']['parts']>, s3_key: string } }, signal: AbortSignal): Readable {
  const archive = new ZipStream({ store: true })
  const date = job.completedAt ?? new Date()
  const entries = [
    ...job.metadata.parts.map(part => ({ key: part.key, name: part.filename })),
    { key: job.metadata.s3_key, name: exportManifestFilename(job.metadata) }
  ]
  void (async () => {
    for (const entry of entries) {
      signal.throwIfAborted()
      const object = await storage.client.send(new GetObjectCommand({ Bucket: storage.bucket, Key: entry.key }), { abortSignal: signal })
      const body = object.Body as Readable
      await new Promise<void>((resolve, reject) => {
        archive.entry(body, { name: entry.name, store: true, date }, error => error ? reject(error) : resolve())
      })
    }
    archive.finish()
  })().catch((error: unknown) => archive.destroy(error as Error))
  return archive as unknown as Readable
}
