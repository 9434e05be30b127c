/** The original health route: readiness, the same answer and the same cached probes as /api/health/ready. */
export { default } from './health/ready.get'
