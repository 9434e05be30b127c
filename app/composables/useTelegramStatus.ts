export interface TelegramStatus { enabled: boolean, linked: boolean, bot_username: string | null }

/**
 * The signed-in user's Telegram status, one copy for the whole app: the header's connect button
 * and the export dialog's "we'll notify you" read the same data under one key, so linking or
 * unlinking in one place shows in the other. Client-side only: the status is per user and cheap.
 * It is asked for once; whoever mounts later reuses the answer, and `refresh()` asks again.
 */
export function useTelegramStatus() {
  const { loggedIn } = useUserSession()
  const { data: status, refresh } = useFetch<TelegramStatus>('/api/telegram/status', {
    key: 'telegram-status',
    server: false,
    lazy: true,
    // Signed out there is nothing to ask; a layout that outlives sign-in calls refresh() after it.
    immediate: loggedIn.value,
    // A second component mounting joins the request in flight, or reuses its answer.
    dedupe: 'defer',
    getCachedData: (key, nuxtApp, ctx) => (ctx.cause === 'initial' ? nuxtApp.payload.data[key] : undefined)
  })
  // Telegram may be off on this server, or the status unreadable: then nothing is linked.
  const enabled = computed(() => status.value?.enabled ?? false)
  const linked = computed(() => status.value?.linked ?? false)
  // An explicit refresh (after linking, unlinking, signing in) must not get an older answer.
  return { status, enabled, linked, refresh: () => refresh({ dedupe: 'cancel' }) }
}
