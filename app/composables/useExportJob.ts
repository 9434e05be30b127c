import type { ExportJobDTO } from '#shared/types/exports'
import { isFinalStatus } from '#shared/types/jobs'

const POLL_MS = 1000
const MAX_BACKOFF_MS = 15_000

/**
 * Follows one export job: polls its status every second while it is pending or running, backs
 * off on errors, pauses while the tab is hidden, and stops once the job is final. A null id
 * means "nothing to follow".
 */
export function useExportJob(jobId: Ref<string | null | undefined>) {
  const job = ref<ExportJobDTO | null>(null)
  const error = ref<{ statusCode?: number, message: string } | null>(null)
  let timer: ReturnType<typeof setTimeout> | undefined
  let failures = 0
  let generation = 0

  const isFinal = computed(() => !!job.value && isFinalStatus(job.value.status))

  function schedule(ms: number) {
    clearTimeout(timer)
    if (!import.meta.client || document.visibilityState === 'hidden') return
    timer = setTimeout(poll, ms)
  }

  async function poll() {
    const id = jobId.value
    if (!id) return
    const current = ++generation
    try {
      const next = await $fetch<ExportJobDTO>(`/api/analytics/exports/${id}`)
      // A response for a job we no longer follow (the id changed meanwhile) is dropped.
      if (current !== generation || id !== jobId.value) return
      job.value = next
      error.value = null
      failures = 0
      if (!isFinalStatus(next.status)) schedule(POLL_MS)
    } catch (e) {
      if (current !== generation) return
      const statusCode = (e as { statusCode?: number }).statusCode
      error.value = { statusCode, message: (e as { data?: { message?: string } }).data?.message ?? 'Could not reach the server' }
      // Not found or signed out will not get better by asking again.
      if (statusCode === 404 || statusCode === 401) return
      failures++
      schedule(Math.min(MAX_BACKOFF_MS, POLL_MS * 2 ** failures))
    }
  }

  function onVisibility() {
    if (document.visibilityState === 'visible' && jobId.value && !isFinal.value) schedule(0)
    else clearTimeout(timer)
  }

  watch(jobId, (id: string | null | undefined) => {
    clearTimeout(timer)
    generation++
    job.value = null
    error.value = null
    failures = 0
    if (id) schedule(0)
  }, { immediate: true })

  onMounted(() => {
    document.addEventListener('visibilitychange', onVisibility)
    if (jobId.value && !job.value) schedule(0)
  })
  onBeforeUnmount(() => {
    clearTimeout(timer)
    document.removeEventListener('visibilitychange', onVisibility)
  })

  return { job, error, isFinal, refresh: () => schedule(0) }
}
