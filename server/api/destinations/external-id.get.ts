import { externalIdDTO } from '#server/lib/destinations/store'

/** The caller's ExternalId and a trust policy to paste into the IAM role of an S3 destination with `role_arn`. */
export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:read' })
  const { db, config } = await useAppContext()
  return externalIdDTO(db, user.id, config.DESTINATIONS_AWS_PRINCIPAL_ARN)
})
