// Pages anyone may read: the API reference documents a public document (/api/openapi.json).
const PUBLIC_PAGES = new Set(['/docs/api'])

export default defineNuxtRouteMiddleware((to) => {
  if (PUBLIC_PAGES.has(to.path)) return
  const { loggedIn } = useUserSession()
  if (to.path === '/login') {
    if (loggedIn.value) return navigateTo(safeRedirect(to.query.redirect))
    return
  }
  if (!loggedIn.value) {
    return navigateTo({ path: '/login', query: { redirect: to.fullPath } })
  }
})
