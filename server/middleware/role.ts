/**
 * A worker-only process (OUTPORT_ROLE=worker) answers nothing but its health checks (`/api/health`,
 * `/api/health/live`, `/api/health/ready`) and `/metrics`: workers are what runs the exports, so
 * they are what a scraper most needs to reach.
 */
export default defineEventHandler(async (event) => {
  if (event.path.startsWith('/api/health')) return
  if (event.path === '/metrics' || event.path.startsWith('/metrics?')) return
  const { config } = await useAppContext()
  if (config.OUTPORT_ROLE === 'worker') throw createError({ statusCode: 404, message: 'This process only runs export jobs' })
})
