import { liveSessionIds } from '../lib/auth/sessions'
import { liveTokenIds } from '../lib/auth/tokens'
import { deliveriesOfJob } from '../lib/destinations/deliveries'
import { exportDTO } from '../lib/exports/dto'
import { ExportEventHub } from '../lib/exports/events'
import { queuePosition } from '../lib/exports/jobs/history'
import { logFn } from '../lib/log'

let hub: Promise<ExportEventHub> | undefined
let created: ExportEventHub | undefined

/** This process's export event hub (its LISTEN connection opens with the first stream). */
export function useExportEventHub(): Promise<ExportEventHub> {
  hub ??= (async () => {
    const { db, config } = await useAppContext()
    created = new ExportEventHub(db, {
      databaseUrl: config.DATABASE_URL,
      // No presigned URL: it would be minted for every event and outlive none of them usefully;
      // a client reads the job (GET /api/analytics/exports/{id}) once it is completed.
      toDTO: async (job) => {
        const [position, deliveries] = await Promise.all([queuePosition(db, job), deliveriesOfJob(db, job)])
        return exportDTO(job, null, config, position, deliveries)
      },
      liveCredentials: (kind, ids) => kind === 'session' ? liveSessionIds(db, ids) : liveTokenIds(db, ids),
      heartbeatMs: config.EXPORT_EVENTS_HEARTBEAT_SECONDS * 1000,
      authCheckMs: config.EXPORT_EVENTS_AUTH_CHECK_SECONDS * 1000,
      log: logFn(useLog().child({ component: 'export-events' }))
    })
    return created
  })().catch((error) => {
    hub = undefined
    throw error
  })
  return hub
}

/** Ends this process's streams (at shutdown: their clients reconnect elsewhere). */
export async function stopExportEventHub(): Promise<void> {
  await created?.stop()
}
