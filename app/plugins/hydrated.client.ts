/**
 * Marks the page once hydration is done. Until then server-rendered inputs and buttons are inert
 * and hydration resets typed values, so automated browsers (the e2e tests, the bench) wait for it.
 */
export default defineNuxtPlugin((nuxtApp) => {
  nuxtApp.hook('app:suspense:resolve', () => {
    document.documentElement.dataset.hydrated = 'true'
  })
})
