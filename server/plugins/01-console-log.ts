import { formatWithOptions } from 'node:util'

/**
 * With JSON logs, stdout must hold nothing but JSON lines, yet Nitro ("Listening on …", its
 * `[request error]` lines for unhandled errors), Prisma and other libraries print with console.*.
 * Those calls are turned into log entries here (console.error/warn at error/warn, the rest at info),
 * each one line; an Error argument is kept whole under `err`. Runs right after the redaction plugin
 * (file-name order), which still sees every line: the logger writes through process.stdout.write.
 */
const NODE_WARNING = /^\(node:\d+\) (\[\w+\] )?\w*Warning/

export default defineNitroPlugin(() => {
  if (useLogFormat() !== 'json') return
  const log = useLog()
  const bridge = (level: 'info' | 'warn' | 'error' | 'debug') => (...args: unknown[]) => {
    const err = args.find(a => a instanceof Error)
    const msg = formatWithOptions({ colors: false, breakLength: Infinity }, ...args.filter(a => a !== err))
    // Node prints process warnings (deprecations, the AWS SDK's Node version notice) with
    // console.error; they are warnings, not errors.
    log[level === 'error' && NODE_WARNING.test(msg) ? 'warn' : level](err ? { err } : {}, msg)
  }
  console.log = bridge('info')
  console.info = bridge('info')
  console.debug = bridge('debug')
  console.warn = bridge('warn')
  console.error = bridge('error')
})
