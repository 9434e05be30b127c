import { useIntervalFn } from '@vueuse/core'
import type { DatasetDTO } from '#shared/types/datasets'
import type { ExportJobDTO } from '#shared/types/exports'
import { ACTIVE_STATUSES, isActiveStatus } from '#shared/types/jobs'

const POLL_MS = 5000

/**
 * The signed-in user's exports still waiting or running, followed app-wide by the layout: their
 * count for the sidebar, and a toast on whatever page is open when a one-off export (from the app
 * or the API, not a schedule's run) finishes. Only exports seen running since the page loaded (or
 * created after it) are announced, so a reload does not replay old news. Live from the export event stream; while the stream is not open, the list
 * of running exports is polled and an export that left it is read once for its outcome.
 */
export function useRunningExports() {
  const { loggedIn } = useUserSession()
  const route = useRoute()
  const toast = useToast()
  const running = ref(new Set<string>())
  const loadedAt = Date.now()
  // A finished export changes again (its deliveries, its file expiring): it is announced once.
  const announced = new Set<string>()

  // Datasets by their titles, read once, when the first export finishes.
  let titles: Promise<Map<string, string>> | undefined
  async function datasetTitle(job: ExportJobDTO): Promise<string> {
    titles ??= $fetch<{ datasets: DatasetDTO[] }>('/api/analytics/datasets')
      .then(({ datasets }) => new Map(datasets.map(d => [d.id, d.title])))
      .catch(() => new Map())
    return (await titles).get(job.dataset_id) ?? job.dataset_name
  }

  async function announce(job: ExportJobDTO) {
    // Someone waits for a one-off export; a schedule's runs (a backfill may be dozens) are news
    // for the schedule's own notifications, not a toast each.
    if (job.schedule_id || announced.has(job.job_id)) return
    announced.add(job.job_id)
    // The export dialog open on this very export, and the history's rows, show the outcome themselves.
    if (route.query.job === job.job_id || route.path === '/analytics/exports') return
    const dataset = await datasetTitle(job)
    if (job.status === 'completed') {
      toast.add({
        title: 'Export ready',
        description: `${dataset} · ${job.format.toUpperCase()}`,
        icon: 'i-lucide-circle-check',
        color: 'success',
        // Stays until dismissed: the file is waiting for the user, who may be looking elsewhere.
        duration: 0,
        // The download route mints a fresh link on every click, so the toast never holds a stale one.
        actions: [{ label: 'Download', icon: 'i-lucide-download', to: `/api/analytics/exports/${job.job_id}/download`, external: true }]
      })
    } else if (job.status === 'failed') {
      toast.add({
        title: 'Export failed',
        description: `${dataset}: ${job.error?.message ?? 'no reason given'}`,
        icon: 'i-lucide-circle-x',
        color: 'error',
        duration: 0,
        actions: [{ label: 'See in history', color: 'neutral', variant: 'outline', to: `/analytics/exports?job=${job.job_id}` }]
      })
    }
  }

  function track(job: ExportJobDTO) {
    const known = running.value.has(job.job_id)
    if (isActiveStatus(job.status)) {
      if (!known) running.value = new Set(running.value).add(job.job_id)
      return
    }
    if (known) {
      const next = new Set(running.value)
      next.delete(job.job_id)
      running.value = next
    }
    if (known || Date.parse(job.created_at) >= loadedAt) void announce(job)
  }

  const { live } = useExportEvents(() => (loggedIn.value ? undefined : null), track)

  async function poll() {
    if (!loggedIn.value) {
      running.value = new Set()
      return
    }
    try {
      const { exports } = await $fetch<{ exports: ExportJobDTO[] }>('/api/analytics/exports', { query: { status: ACTIVE_STATUSES.join(','), limit: 100 } })
      const now = new Set(exports.map(job => job.job_id))
      const left = [...running.value].filter(id => !now.has(id))
      running.value = now
      for (const id of left) {
        const job = await $fetch<ExportJobDTO>(`/api/analytics/exports/${id}`).catch(() => null)
        if (job) await announce(job)
      }
    } catch {
      // Signed out meanwhile or the server is away: the next round tries again.
    }
  }

  // The stream sends changes, not the current state: the list is read at start (the stream is
  // not live yet), then every few seconds while the stream is not live.
  const timer = useIntervalFn(poll, POLL_MS, { immediate: false })
  onMounted(() => {
    watch([live, loggedIn], ([isLive, signedIn]: [boolean, boolean]) => {
      if (!signedIn || isLive) timer.pause()
      else timer.resume()
      if (signedIn && !isLive) void poll()
    }, { immediate: true })
  })

  return { count: computed(() => running.value.size) }
}
