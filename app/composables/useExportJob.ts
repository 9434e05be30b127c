import { useEventListener, useTimeoutFn } from '@vueuse/core'
import type { ExportJobDTO } from '#shared/types/exports'
import { isFinalStatus } from '#shared/types/jobs'

const POLL_MS = 1000
const MAX_BACKOFF_MS = 15_000
/** A finished job's deliveries take seconds, or minutes between retries: asked about less often. */
const DELIVERY_POLL_MS = 5000

/** Nothing more will change: the job is final and none of its deliveries is still under way. */
function settled(job: ExportJobDTO): boolean {
  return isFinalStatus(job.status) && !job.deliveries.some(d => d.status === 'pending' || d.status === 'delivering')
}

export interface ExportJobError { statusCode?: number, message: string }

interface JobPoller {
  /** Reads the job now (after a cancel, say), even if it was final. */
  refresh: () => void
  /** Stops for good: no more reads, and an answer still on its way is dropped. */
  stop: () => void
  /** No timed reads while the job's changes are pushed (refresh() still reads); resume() reads at once. */
  pause: () => void
  resume: () => void
}

/**
 * Polls one export job until it is settled: every `intervalMs` while it is pending or running
 * (every few seconds once final while a delivery to a destination is still under way),
 * backing off on errors, giving up on 404 or 401 (asking again will not help), pausing while the
 * tab is hidden and reading at once when it is shown again. Browser only.
 */
function pollExportJob(
  id: string,
  on: { job: (job: ExportJobDTO) => void, error?: (error: ExportJobError) => void },
  { intervalMs = POLL_MS, delayMs = 0 }: { intervalMs?: number, delayMs?: number } = {}
): JobPoller {
  // A poller lives as long as its job is followed, not as long as the component that started it:
  // stopping its own scope ends its timer and its listener together.
  const scope = effectScope(true)
  return scope.run(() => {
    let delay = delayMs
    let failures = 0
    let generation = 0
    let final = false
    let paused = false
    const timer = useTimeoutFn(poll, () => delay, { immediate: false })

    function schedule(ms: number, force = false) {
      timer.stop()
      if (!scope.active || document.visibilityState === 'hidden' || (paused && !force)) return
      delay = ms
      timer.start()
    }

    async function poll() {
      // Only the newest read counts: a refresh() while one is in flight supersedes it.
      const current = ++generation
      try {
        const next = await $fetch<ExportJobDTO>(`/api/analytics/exports/${id}`)
        if (!scope.active || current !== generation) return
        failures = 0
        final = settled(next)
        on.job(next)
        if (!final) schedule(isFinalStatus(next.status) ? Math.max(intervalMs, DELIVERY_POLL_MS) : intervalMs)
      } catch (e) {
        if (!scope.active || current !== generation) return
        const statusCode = apiErrorStatus(e)
        on.error?.({ statusCode, message: apiErrorMessage(e, 'Could not reach the server') })
        if (statusCode === 404 || statusCode === 401) return
        failures++
        schedule(Math.min(MAX_BACKOFF_MS, intervalMs * 2 ** failures))
      }
    }

    useEventListener(document, 'visibilitychange', () => {
      if (document.visibilityState === 'visible' && !final) schedule(0)
      else timer.stop()
    })
    schedule(delayMs)
    return {
      refresh: () => schedule(0, true),
      stop: () => scope.stop(),
      pause: () => {
        paused = true
        timer.stop()
      },
      resume: () => {
        paused = false
        if (!final) schedule(0)
      }
    }
  })!
}

/**
 * Follows one export job: polls its status every second while it is pending or running, backs
 * off on errors, pauses while the tab is hidden, and stops once the job is final. A null id
 * means "nothing to follow". Polling starts once the component is mounted.
 */
export function useExportJob(jobId: Ref<string | null | undefined>) {
  const job = ref<ExportJobDTO | null>(null)
  const error = ref<ExportJobError | null>(null)
  const isFinal = computed(() => !!job.value && isFinalStatus(job.value.status))
  let poller: JobPoller | undefined

  function follow(id: string | null | undefined) {
    poller?.stop()
    poller = undefined
    job.value = null
    error.value = null
    if (!id) return
    poller = pollExportJob(id, {
      job: (next) => {
        job.value = next
        error.value = null
      },
      error: (e) => {
        error.value = e
      }
    })
    if (live.value) poller.pause()
  }

  // Pushed while the stream is open; polled while it is not. A final state is read once more:
  // events carry no download URL.
  const { live } = useExportEvents(() => jobId.value ?? null, (next) => {
    if (next.job_id !== jobId.value) return
    if (isFinalStatus(next.status)) return poller?.refresh()
    job.value = next
    error.value = null
  })

  onMounted(() => follow(jobId.value))
  watch(jobId, follow)
  watch(live, (on: boolean) => on ? poller?.pause() : poller?.resume())
  onScopeDispose(() => poller?.stop())

  return { job, error, isFinal, live, refresh: () => poller?.refresh() }
}

/**
 * Keeps the pending and running jobs of a list (and finished ones still delivering) fresh until they are settled, each polled as
 * `useExportJob` polls one (first after `intervalMs`: the list was just read). A fresh job
 * replaces its row; rows that leave the list are no longer followed.
 */
export function useExportJobs(jobs: Ref<ExportJobDTO[]>, { intervalMs = POLL_MS }: { intervalMs?: number } = {}) {
  const pollers = new Map<string, JobPoller>()
  let mounted = false

  function replace(fresh: ExportJobDTO) {
    jobs.value = jobs.value.map((j: ExportJobDTO) => (j.job_id === fresh.job_id ? fresh : j))
  }

  function sync() {
    if (!mounted) return
    const active = new Set<string>(jobs.value.filter((j: ExportJobDTO) => !settled(j)).map((j: ExportJobDTO) => j.job_id))
    for (const [id, poller] of pollers) {
      if (active.has(id)) continue
      poller.stop()
      pollers.delete(id)
    }
    for (const id of active) {
      if (pollers.has(id)) continue
      const poller = pollExportJob(id, { job: replace }, { intervalMs, delayMs: intervalMs })
      if (live.value) poller.pause()
      pollers.set(id, poller)
    }
  }

  // One stream for the whole list; its rows are polled only while it is not open.
  const { live } = useExportEvents(() => undefined, (next) => {
    const poller = pollers.get(next.job_id)
    if (!poller) return
    if (isFinalStatus(next.status)) poller.refresh()
    else replace(next)
  })
  watch(live, (on: boolean) => {
    for (const poller of pollers.values()) {
      if (on) poller.pause()
      else poller.resume()
    }
  })

  onMounted(() => {
    mounted = true
    sync()
  })
  watch(jobs, sync)
  onScopeDispose(() => {
    for (const poller of pollers.values()) poller.stop()
    pollers.clear()
  })

  return { refresh: (jobId: string) => pollers.get(jobId)?.refresh() }
}
