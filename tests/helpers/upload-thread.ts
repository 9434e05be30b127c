import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { buildUploadThread } from '#server/lib/storage/upload-thread-build'
import { threadUploader, type Uploader } from '#server/lib/storage/uploader'

/**
 * The upload thread as the built server runs it, built the same way into the repository's .data
 * (its packages resolve from the repository's node_modules there).
 */
export async function startUploadThread(): Promise<Uploader & { remove: () => Promise<void> }> {
  const dir = join(import.meta.dirname, '../../.data', `upload-thread-${process.pid}-${Date.now()}`)
  const file = join(dir, 'upload-thread.mjs')
  await buildUploadThread(file)
  const uploader = threadUploader(pathToFileURL(file))
  return {
    ...uploader,
    remove: async () => {
      await uploader.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}
