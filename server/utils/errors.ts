// Routes throw these as they are: server/plugins/request-errors.ts answers them with their own status.
export { parseWith, RequestError, ValidationError } from '../lib/validation'
