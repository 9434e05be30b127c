import type { DestinationDTO } from '#shared/types/destinations'

/**
 * The user's destinations in the browser, one copy for the whole app: the Destinations page and
 * every picker (the export dialog, a schedule's form) read the same data under one key, so a
 * destination added in Settings shows in the next dialog. `refresh()` asks again.
 */
export function useDestinations() {
  const { data, status, error, refresh } = useFetch<{ destinations: DestinationDTO[], max_per_user: number }>('/api/destinations', {
    key: 'destinations',
    server: false,
    lazy: true,
    // A second component mounting joins the request in flight, or reuses its answer.
    dedupe: 'defer',
    getCachedData: (key, nuxtApp, ctx) => (ctx.cause === 'initial' ? nuxtApp.payload.data[key] : undefined)
  })
  const destinations = computed(() => data.value?.destinations ?? [])
  const maxPerUser = computed(() => data.value?.max_per_user ?? null)
  return { destinations, maxPerUser, status, error, refresh: () => refresh({ dedupe: 'cancel' }) }
}
