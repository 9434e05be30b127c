/**
 * Any path under /api/ that no route serves: a JSON 404 (server/error.ts renders every /api error
 * as JSON, whatever the Accept header), so a script that mistypes a path sees an error instead of
 * the app's HTML sign-in page (which reads as a 200 success).
 */
export default defineEventHandler((event) => {
  throw createError({ statusCode: 404, message: `No API route ${event.method} ${event.path.split('?')[0]}` })
})
