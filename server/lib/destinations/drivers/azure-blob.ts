import { randomUUID } from 'node:crypto'
import { AnonymousCredential, ContainerClient, RestError, StorageSharedKeyCredential } from '@azure/storage-blob'
import type { AzureBlobConfig, AzureBlobCredentials } from '#shared/types/destinations'
import { staticFolder } from '../template'
import { DestinationError, vetEndpoint, type Driver, type DriverDeps, type TestSteps } from './driver'

/**
 * Azure Blob Storage: a SAS token or the account key. The file is staged as blocks streamed from
 * Outport's bucket and committed in one call at the end, so a reader never sees half a blob (an
 * attempt cut short leaves only uncommitted blocks, which Azure discards), then checked by size.
 */

async function container(config: AzureBlobConfig, credentials: AzureBlobCredentials, deps: DriverDeps): Promise<ContainerClient> {
  await vetEndpoint(config.account_url, deps, 'account URL')
  const base = `${config.account_url.replace(/\/+$/, '')}/${config.container}`
  const client = credentials.sas_token
    ? new ContainerClient(`${base}?${credentials.sas_token}`, new AnonymousCredential(), { retryOptions: { maxTries: 1, tryTimeoutInMs: deps.timeoutMs } })
    : new ContainerClient(base, new StorageSharedKeyCredential(credentials.account_name!, credentials.account_key!), { retryOptions: { maxTries: 1, tryTimeoutInMs: deps.timeoutMs } })
  // No redirects, as for webhooks: a 3xx must not carry the request (and its signature) elsewhere.
  const pipeline = (client as unknown as { storageClientContext?: { pipeline?: { removePolicy: (p: { name: string }) => unknown } } }).storageClientContext?.pipeline
  pipeline?.removePolicy({ name: 'redirectPolicy' })
  return client
}

function reason(error: unknown, what: string): string {
  if (error instanceof RestError) {
    const code = (error.code ?? (error.details as { errorCode?: string } | undefined)?.errorCode) || ''
    if (authProblem(error)) return 'The credentials were refused (the account key or SAS token is wrong or expired)'
    if (code === 'ContainerNotFound' || (error.statusCode === 404 && !code)) return `The container ${what} does not exist (404)`
    if (error.statusCode === 403) return `Access denied (403${code ? `, ${code}` : ''}): these credentials may not do this in ${what}`
    if (error.statusCode && error.statusCode >= 300 && error.statusCode < 400) return `The account URL answered with a redirect (${error.statusCode})`
    return `${code || 'Error'}${error.statusCode ? ` (${error.statusCode})` : ''}: ${error.message.split('\n')[0]}`
  }
  return (error as Error).message
}

/** The signature or token was refused (Azure says AuthenticationFailed; azurite, AuthorizationFailure with the same words). */
function authProblem(error: unknown): boolean {
  if (!(error instanceof RestError)) return false
  const code = error.code ?? (error.details as { errorCode?: string } | undefined)?.errorCode
  return code === 'AuthenticationFailed' || code === 'InvalidAuthenticationInfo' || (code === 'AuthorizationFailure' && /failed to authenticate/i.test(error.message))
}

function location(config: AzureBlobConfig, blob: string): string {
  return `${config.account_url.replace(/\/+$/, '')}/${config.container}/${blob}`
}

export const azureBlobDriver: Driver<AzureBlobConfig, AzureBlobCredentials> = {
  absolutePaths: false,

  async test(config, credentials, deps, steps: TestSteps) {
    let client: ContainerClient | undefined
    let probe: unknown = null
    await steps.run('credentials', async () => {
      client = await container(config, credentials, deps)
      try {
        await client.getProperties()
      } catch (error) {
        if (authProblem(error)) throw new DestinationError(reason(error, config.container))
        if (!(error instanceof RestError)) throw new DestinationError(`Could not reach ${config.account_url}: ${(error as Error).message}`)
        probe = error
      }
      return credentials.sas_token ? 'The SAS token was accepted' : `The key of account ${credentials.account_name} was accepted`
    })
    let readDenied = false
    await steps.run('container', async () => {
      if (!probe) return `Container ${config.container} is reachable`
      const status = (probe as RestError).statusCode
      if (status === 403) {
        readDenied = true
        return `Container ${config.container} may not be read with these credentials (403); trying a write`
      }
      throw new DestinationError(reason(probe, config.container))
    })
    const folder = staticFolder(config.prefix)
    const name = `${folder ? `${folder}/` : ''}.outport-test-${randomUUID()}`
    const blob = client!.getBlockBlobClient(name)
    await steps.run('write', async () => {
      const body = 'Outport destination test\n'
      try {
        await blob.upload(body, Buffer.byteLength(body), { blobHTTPHeaders: { blobContentType: 'text/plain' } })
      } catch (error) {
        throw new DestinationError(`Could not write ${location(config, name)}: ${reason(error, config.container)}`)
      }
      return `Wrote ${location(config, name)}`
    })
    await steps.run('delete', async () => {
      try {
        await blob.delete()
      } catch (error) {
        if (error instanceof RestError && error.statusCode === 403) return `These credentials allow writes only, which is fine for deliveries; delete the marker ${name} yourself`
        throw new DestinationError(`Could not delete the marker ${name}: ${reason(error, config.container)}`)
      }
      return `Deleted the marker${readDenied ? ' (this container allows writing but not reading, which is fine for deliveries)' : ''}`
    })
  },

  async deliver(config, credentials, name, source, deps) {
    const client = await container(config, credentials, deps)
    const blob = client.getBlockBlobClient(name)
    const body = await source.open()
    try {
      // uploadStream stages blocks and commits the list once every block is in.
      await blob.uploadStream(body, 8 * 1024 * 1024, 4, { blobHTTPHeaders: { blobContentType: source.contentType } })
    } catch (error) {
      body.destroy()
      throw new DestinationError(`Upload to ${location(config, name)} failed: ${reason(error, config.container)}`)
    }
    let size: number | undefined
    try {
      size = (await blob.getProperties()).contentLength
    } catch (error) {
      throw new DestinationError(`Could not check ${location(config, name)} after the upload: ${reason(error, config.container)}`)
    }
    if (size !== source.size) throw new DestinationError(`${location(config, name)} has ${size} bytes, expected ${source.size}`)
    return { location: location(config, name), bytes: source.size }
  }
}
