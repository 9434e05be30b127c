/** A worker-only process (OUTPORT_ROLE=worker) answers nothing but its health check. */
export default defineEventHandler((event) => {
  if (process.env.OUTPORT_ROLE !== 'worker' || event.path.startsWith('/api/health')) return
  throw createError({ statusCode: 404, message: 'This process only runs export jobs' })
})
