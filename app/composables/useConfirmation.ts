import type { Ref } from 'vue'

/**
 * An action that asks first (revoke a token, delete an export): the item waiting for confirmation,
 * the dialog's open state bound to it, and a busy flag while the action runs. The dialog closes
 * once the action settles, whatever its outcome; the action reports its own errors.
 */
export function useConfirmation<T>(action: (item: T) => Promise<void>) {
  const target: Ref<T | null> = ref(null)
  const open = computed({
    get: () => target.value !== null,
    set: (value: boolean) => {
      if (!value) target.value = null
    }
  })
  const busy = ref(false)
  const ask = (item: T) => {
    target.value = item
  }
  const close = () => {
    target.value = null
  }
  async function confirm() {
    const item = target.value
    if (item === null) return
    busy.value = true
    try {
      await action(item)
    } finally {
      busy.value = false
      target.value = null
    }
  }
  return { target, open, busy, ask, close, confirm }
}
