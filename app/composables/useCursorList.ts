import type { Ref } from 'vue'

export interface UseCursorListOptions {
  /** The answer's field holding the page's items (`exports`, `events`). */
  field: string
  pageSize: number
  /** What to say when the server gives no reason of its own. */
  failure: string
  /** Filters sent with every page (the caller reloads when they change). */
  query?: () => Record<string, string | undefined>
}

/**
 * A list read page by page from a keyset-cursor API (`?limit=&cursor=` answering the items and a
 * `next_cursor`, null on the last page): the first page once mounted, each next one appended.
 * `items` is writable, so a row can be replaced when it changes.
 */
export function useCursorList<T>(url: string, { field, pageSize, failure, query }: UseCursorListOptions) {
  const items: Ref<T[]> = ref([])
  const nextCursor = ref<string | null>(null)
  const loading = ref(true)
  const error = ref<string>()

  async function load(cursor?: string) {
    loading.value = true
    error.value = undefined
    try {
      const page = await $fetch<Record<string, T[]> & { next_cursor: string | null }>(url, { query: { ...query?.(), limit: pageSize, ...(cursor && { cursor }) } })
      const more = page[field] ?? []
      items.value = cursor ? [...items.value, ...more] : more
      nextCursor.value = page.next_cursor
    } catch (e) {
      error.value = apiErrorMessage(e, failure)
    } finally {
      loading.value = false
    }
  }

  onMounted(() => load())

  return {
    items,
    nextCursor,
    loading,
    error,
    /** Reads the first page again, in place of everything shown. */
    reload: () => load(),
    /** Appends the next page (nothing after the last). */
    loadMore: () => nextCursor.value ? load(nextCursor.value) : undefined
  }
}
