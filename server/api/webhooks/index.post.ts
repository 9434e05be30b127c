import { createEndpoint, endpointHost } from '#server/lib/notifications/webhooks/endpoints'
import { CreateWebhookSchema } from '#shared/types/notifications'

/** 201 with the endpoint and its signing secret: the only time the secret is shown. */
export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'webhooks:write' })
  const body = await readValidatedBody(event, parseWith(CreateWebhookSchema))
  const { db, config } = await useAppContext()
  const created = await createEndpoint(db, user.id, body, { allowHosts: config.WEBHOOK_ALLOW_HOSTS, maxPerUser: config.WEBHOOKS_MAX_PER_USER })
  const host = endpointHost(created.url)
  await audit(event, 'webhook.created', { objectId: created.id, details: { host, events: created.events } })
  ;(await useNotifications()).accountChanged(user.id, { what: `A webhook to ${host} was added to your account`, about: ['webhook'] })
  setResponseStatus(event, 201)
  setHeader(event, 'cache-control', 'no-store')
  return created
})
