/**
 * A worker-only process (OUTPORT_ROLE=worker) answers nothing but its health checks: `/api/health`,
 * `/api/health/live` and `/api/health/ready`.
 */
export default defineEventHandler(async (event) => {
  if (event.path.startsWith('/api/health')) return
  const { config } = await useAppContext()
  if (config.OUTPORT_ROLE === 'worker') throw createError({ statusCode: 404, message: 'This process only runs export jobs' })
})
