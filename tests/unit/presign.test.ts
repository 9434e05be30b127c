import { GetObjectCommand } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '#server/lib/config'
import { contentDisposition, createStorage, presignDownload } from '#server/lib/storage/s3'

const base = { DATABASE_URL: 'postgresql://unused', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret/with+chars' }

describe('presignDownload', () => {
  it.each([
    ['AWS, virtual-hosted', { S3_EXPORTS_BUCKET: 'outport-exports', AWS_REGION: 'eu-west-2' }],
    ['AWS, path-style', { S3_EXPORTS_BUCKET: 'outport-exports', AWS_REGION: 'us-east-1', S3_FORCE_PATH_STYLE: 'true' }],
    ['an S3-compatible endpoint', { S3_EXPORTS_BUCKET: 'outport-exports', S3_ENDPOINT: 'http://127.0.0.1:4568' }]
  ])('is byte-for-byte the URL the SDK\'s getSignedUrl produces (%s)', async (_name, env) => {
    const storage = createStorage(loadConfig({ ...base, ...env }))
    const signingDate = new Date('2026-11-22T10:11:12Z')
    for (const [key, filename] of [
      ['exports/0b6b3a47-2d8e-4f65-a1c3-3f1f4d0e2f10/7c9e6679-7425-40de-944b-e07fc1f90ae7.csv', 'fct_transactions_2025-01-01_latest.csv'],
      ['exports/u/job.parquet', 'Café "quoted" name.parquet']
    ] as const) {
      const ours = await presignDownload(storage, key, { filename, contentType: 'text/csv; charset=utf-8', expiresIn: 3600, signingDate })
      const sdk = await getSignedUrl(storage.client, new GetObjectCommand({
        Bucket: storage.bucket, Key: key, ResponseContentDisposition: contentDisposition(filename), ResponseContentType: 'text/csv; charset=utf-8'
      }), { expiresIn: 3600, signingDate })
      const sorted = (u: string) => {
        const url = new URL(u)
        url.searchParams.sort()
        return url.toString()
      }
      expect(sorted(ours)).toBe(sorted(sdk))
    }
  })

  it('expires as asked and signs only the host header', async () => {
    const storage = createStorage(loadConfig({ ...base, S3_EXPORTS_BUCKET: 'b-1', S3_ENDPOINT: 'http://127.0.0.1:4568' }))
    const url = new URL(await presignDownload(storage, 'exports/u/j.csv', { filename: 'x.csv', contentType: 'text/csv', expiresIn: 900 }))
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900')
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('host')
    expect(url.pathname).toBe('/b-1/exports/u/j.csv')
  })
})
