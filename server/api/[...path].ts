/**
 * Any path under /api/ that no route serves: a JSON 404 whatever the Accept header, so a script
 * that mistypes a path sees an error instead of the app's HTML sign-in page (which reads as a 200
 * success). Returned rather than thrown: Nuxt renders thrown errors as HTML for browsers.
 */
export default defineEventHandler((event) => {
  setResponseStatus(event, 404)
  return { statusCode: 404, statusMessage: 'Not Found', message: `No API route ${event.method} ${event.path.split('?')[0]}` }
})
