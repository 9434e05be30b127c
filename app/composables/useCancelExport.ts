/**
 * Cancels export jobs. A job that finished meanwhile answers 409, which is not an error here: the
 * next read of its status shows how it ended, so callers refresh the job after `cancel()`.
 */
export function useCancelExport() {
  const cancelling = ref(false)

  async function cancel(jobId: string) {
    cancelling.value = true
    try {
      await $fetch(`/api/analytics/exports/${jobId}/cancel`, { method: 'POST' })
    } catch {
      // Already finished (409): the next status read shows how.
    } finally {
      cancelling.value = false
    }
  }

  return { cancelling, cancel }
}
