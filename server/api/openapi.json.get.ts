import { buildOpenApiDocument } from '../lib/openapi/document'

// Built once per process: it depends only on the code.
let document: ReturnType<typeof buildOpenApiDocument> | undefined

/** The OpenAPI 3.1 document of this API (public; rendered at /docs/api). */
export default defineEventHandler(() => {
  document ??= buildOpenApiDocument()
  return document
})
