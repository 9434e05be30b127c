import { useTimeoutFn } from '@vueuse/core'
import type { MaybeRefOrGetter } from 'vue'
import type { z } from 'zod'
import type { FieldError } from '#shared/types/api'
import type { ExportPreviewSchema } from '#shared/types/exports'

/** What POST /api/analytics/exports/preview answers: the file's first rows, its exact row count and an estimate of its size. */
export type ExportPreview = z.infer<typeof ExportPreviewSchema>

export interface UseExportPreviewOptions {
  /** Quiet time after the last change before asking the server. */
  debounceMs?: number
}

const PREVIEW_URL = '/api/analytics/exports/preview'

/**
 * A live preview of the export the dialog describes: `body` is the request the dialog would send
 * (or null while it is not worth asking, e.g. no column chosen). Every change waits `debounceMs`,
 * and a request still under way when a newer one starts is aborted, so only the latest answer is
 * ever shown. A server without the preview route (404/405) turns the preview off for the page's
 * lifetime (`unavailable`); a 400 hands its field errors over in `errors`.
 */
export function useExportPreview(body: MaybeRefOrGetter<Record<string, unknown> | null>, options: UseExportPreviewOptions = {}) {
  const debounceMs = options.debounceMs ?? 300
  // Shared by every dialog of the page: once we know the route is missing, nobody asks again.
  const unavailable = useState('export-preview-unavailable', () => false)
  const preview = ref<ExportPreview | null>(null)
  const pending = ref(false)
  const errors = ref<FieldError[]>([])
  const failure = ref<string | null>(null)

  let controller: AbortController | undefined
  const debounced = useTimeoutFn((json: string) => load(JSON.parse(json)), debounceMs, { immediate: false })

  function cancel() {
    debounced.stop()
    controller?.abort()
    controller = undefined
  }

  async function load(request: Record<string, unknown>) {
    controller?.abort()
    const mine = new AbortController()
    controller = mine
    pending.value = true
    try {
      const answer = await $fetch<ExportPreview>(PREVIEW_URL, { method: 'POST', body: request, signal: mine.signal })
      if (mine.signal.aborted) return
      if (!Array.isArray(answer?.columns) || !Array.isArray(answer?.rows)) {
        // Something that is not the preview route (an HTML page): as good as no route.
        unavailable.value = true
        preview.value = null
        return
      }
      preview.value = answer
      if (errors.value.length) errors.value = []
      failure.value = null
    } catch (e) {
      if (mine.signal.aborted) return
      const status = apiErrorStatus(e)
      if (status === 404 || status === 405) {
        unavailable.value = true
        preview.value = null
        return
      }
      preview.value = null
      errors.value = apiFieldErrors(e)
      failure.value = errors.value.length ? null : apiErrorMessage(e, 'The preview could not be loaded.')
    } finally {
      if (controller === mine) {
        controller = undefined
        pending.value = false
      }
    }
  }

  if (import.meta.client) {
    watch(() => {
      const value = toValue(body)
      return value ? JSON.stringify(value) : null
    }, (json: string | null) => {
      cancel()
      if (unavailable.value) return
      if (!json) {
        pending.value = false
        preview.value = null
        if (errors.value.length) errors.value = []
        return
      }
      pending.value = true
      debounced.start(json)
    }, { immediate: true })
    onScopeDispose(cancel)
  }

  return { preview, pending, errors, failure, unavailable }
}
