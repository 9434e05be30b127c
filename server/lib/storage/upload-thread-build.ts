import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

/**
 * Builds the upload thread's entry into one file. Its packages (the AWS SDK) stay imports: beside
 * the built server they resolve to .output/server/node_modules, which holds them already.
 */
export async function buildUploadThread(outfile: string): Promise<void> {
  await build({
    entryPoints: [fileURLToPath(new URL('./upload-thread.ts', import.meta.url))],
    outfile,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning'
  })
}
