import { setTimeout as sleep } from 'node:timers/promises'
import type { ExportJobDTO } from '#shared/types/exports'
import { isFinalStatus } from '#shared/types/jobs'

export interface RequestOptions extends RequestInit { token?: string, cookie?: string }

/** A tiny client for one server: bearer token or cookie, no redirects followed. */
export function client(baseUrl: string) {
  const api = (path: string, init: RequestOptions = {}) => {
    const headers = new Headers(init.headers)
    if (init.token) headers.set('authorization', `Bearer ${init.token}`)
    if (init.cookie) headers.set('cookie', init.cookie)
    return fetch(`${baseUrl}${path}`, { ...init, headers, redirect: 'manual' })
  }
  const postJson = (path: string, body: unknown, init: RequestOptions = {}) => api(path, {
    method: 'POST',
    ...init,
    headers: { 'content-type': 'application/json', ...init.headers },
    body: typeof body === 'string' ? body : JSON.stringify(body)
  })

  async function createExport(token: string, body: Record<string, unknown>): Promise<string> {
    const res = await postJson('/api/analytics/exports', body, { token })
    const json = await res.json()
    if (res.status !== 202) throw new Error(`POST /api/analytics/exports: ${res.status} ${JSON.stringify(json)}`)
    return json.job_id
  }

  async function getExport(token: string, jobId: string): Promise<ExportJobDTO> {
    const res = await api(`/api/analytics/exports/${jobId}`, { token })
    if (res.status !== 200) throw new Error(`GET export ${jobId}: ${res.status} ${await res.text()}`)
    return res.json()
  }

  /** Polls until the job reaches a final status (or the timeout passes). */
  async function waitForExport(token: string, jobId: string, timeoutMs = 60_000, intervalMs = 50): Promise<ExportJobDTO> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const job = await getExport(token, jobId)
      if (isFinalStatus(job.status)) return job
      if (Date.now() > deadline) throw new Error(`export ${jobId} still ${job.status} after ${timeoutMs} ms`)
      await sleep(intervalMs)
    }
  }

  return { api, postJson, createExport, getExport, waitForExport }
}
