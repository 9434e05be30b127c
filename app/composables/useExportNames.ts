import type { NamedItemDTO } from '#shared/types/api'
import type { DatasetDTO } from '#shared/types/datasets'
import type { ScheduleDTO } from '#shared/types/schedules'

/**
 * The names the export history shows instead of ids: datasets' titles, accounts, tags and
 * schedules (a schedule's current name, which may differ from the one its run recorded).
 * Each list is read once however many components ask (useFetch shares by URL).
 */
export function useExportNames() {
  const { data: datasets } = useFetch<{ datasets: DatasetDTO[] }>('/api/analytics/datasets', { server: false, lazy: true })
  const { data: accounts } = useFetch<NamedItemDTO[]>('/api/accounts', { server: false, lazy: true, default: () => [] })
  const { data: tags } = useFetch<NamedItemDTO[]>('/api/tags', { server: false, lazy: true, default: () => [] })
  const { data: schedules } = useFetch<{ schedules: ScheduleDTO[] }>('/api/analytics/schedules', { server: false, lazy: true })
  return {
    datasets: computed(() => datasets.value?.datasets ?? []),
    titles: computed(() => new Map(datasets.value?.datasets.map(d => [d.id, d.title]))),
    lookup: computed(() => ({
      accounts: new Map(accounts.value.map(a => [a.id, a.name])),
      tags: new Map(tags.value.map(t => [t.id, t.name]))
    })),
    scheduleNames: computed(() => new Map<string, string | null>(schedules.value?.schedules.map(s => [s.id, s.name]))),
    schedulesLoaded: computed(() => !!schedules.value)
  }
}
