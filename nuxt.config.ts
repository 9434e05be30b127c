// https://nuxt.com/docs/api/configuration/nuxt-config

// Nitro's options: the scheduled tasks (retention of export files, audit events and notification
// records, the sweep for orphaned export objects, and the schedules' scheduler; the export worker
// itself is started by server/plugins/lifecycle.ts), files the tracer misses, and the upload
// thread's build. Declared apart, with `experimental` widened, because Nuxt 3.21's schema types
// `nitro` without Nitro's task options.
const nitroTasks = {
  experimental: { tasks: true } as Record<string, boolean>,
  scheduledTasks: { '*/10 * * * *': ['exports:retention'], '41 * * * *': ['exports:orphans'], '* * * * *': ['schedules:run'], '17 * * * *': ['audit:retention'], '37 * * * *': ['notifications:retention'] },
  // get-intrinsic (pulled in by exceljs's dependencies) requires these packages, which Node 20.19+
  // resolves through their "module-sync" export (require.mjs); Nitro's file tracer follows only
  // the default condition and left require.mjs out of .output, so the built server would not start.
  externals: {
    traceInclude: ['async-function', 'async-generator-function', 'generator-function'].map(name => `node_modules/${name}/require.mjs`)
  },
  hooks: {
    // Exports' uploads run on a worker thread, which starts from a file of its own: the thread's
    // entry is built beside the server's, not into Nitro's bundle, whose shared chunks would start
    // a whole app inside the thread. Its packages (the AWS SDK) are the server's, already in .output.
    async compiled(nitro: { options: { dev: boolean, output: { serverDir: string } } }) {
      if (nitro.options.dev) return
      const { buildUploadThread } = await import('./server/lib/storage/upload-thread-build')
      await buildUploadThread(`${nitro.options.output.serverDir}/upload-thread.mjs`)
    }
  }
}

export default defineNuxtConfig({
  modules: ['@nuxt/ui', '@nuxt/eslint', 'nuxt-auth-utils'],

  $development: {
    runtimeConfig: { session: { name: 'nuxt-session', password: '', cookie: { secure: false } } }
  },

  hooks: {
    // server/error.ts renders /api errors as JSON before Nuxt's handler (an HTML page, for pages)
    // sees them: Nitro tries its error handlers in order, and a `nitro.errorHandler` option would
    // replace Nuxt's instead of going first.
    // (Nuxt 3.21's schema types the config without Nitro's errorHandler.)
    'nitro:config'(config) {
      const nitro = config as { errorHandler?: string | string[] }
      nitro.errorHandler = ['~~/server/error', ...[nitro.errorHandler ?? []].flat()]
    },
    // npm run dev without DATABASE_URL: the embedded PostgreSQL starts here, in the dev process,
    // before the server worker (which inherits DATABASE_URL). When it cannot start, npm run dev
    // ends with a message saying why and what to do, instead of a server that hangs.
    async ready(nuxt) {
      if (!nuxt.options.dev || nuxt.options._prepare || process.env.DATABASE_URL) return
      const { startDevelopmentDatabase } = await import('./server/lib/local/services')
      await startDevelopmentDatabase(process.env, {
        log: line => console.info(`[outport] ${line}`),
        fail: (message) => {
          console.error(`\n${message}\n`)
          process.exit(1)
        }
      })
    }
  },

  // `nuxt build` defaults to node_modules/.cache/nuxt/.nuxt: worktrees sharing one node_modules
  // would build over each other there. NUXT_BUILD_DIR gives each its own.
  ...(process.env.NUXT_BUILD_DIR ? { buildDir: process.env.NUXT_BUILD_DIR } : {}),

  // Components are named by their file, not their folder: app/components/exports/ExportDialog.vue
  // is <ExportDialog>. The domain folders only group the files.
  components: [{ path: '~/components', pathPrefix: false }],

  devtools: { enabled: false },

  app: {
    head: { htmlAttrs: { lang: 'en' } }
  },

  css: ['~/assets/css/main.css'],

  // Our machines have no internet: no font providers, no Iconify API; icons come from the local
  // @iconify-json/lucide collection.
  ui: { fonts: false },

  // The session cookie: never readable by scripts, not sent on cross-site subrequests, and over
  // HTTPS only outside development (NUXT_SESSION_COOKIE_SECURE=false for a plain-HTTP deployment).
  runtimeConfig: {
    // password: from NUXT_SESSION_PASSWORD at run time.
    session: { name: 'nuxt-session', password: '', cookie: { httpOnly: true, sameSite: 'lax', secure: true } }
  },

  future: { compatibilityVersion: 4 },

  compatibilityDate: '2026-11-01',

  nitro: nitroTasks,

  typescript: {
    tsConfig: {
      compilerOptions: { allowImportingTsExtensions: true }
    }
  },

  eslint: {
    config: {
      stylistic: { commaDangle: 'never', braceStyle: '1tbs' }
    }
  },

  icon: {
    provider: 'server',
    serverBundle: { collections: ['lucide'] },
    clientBundle: {
      scan: true,
      icons: [
        'lucide:check', 'lucide:chevron-down', 'lucide:chevron-up', 'lucide:chevron-left',
        'lucide:chevron-right', 'lucide:x', 'lucide:loader-circle', 'lucide:search', 'lucide:minus',
        'lucide:plus', 'lucide:ellipsis', 'lucide:arrow-left', 'lucide:arrow-right', 'lucide:arrow-up',
        'lucide:arrow-down', 'lucide:circle-alert', 'lucide:info', 'lucide:circle-check',
        'lucide:triangle-alert', 'lucide:eye', 'lucide:eye-off', 'lucide:sun', 'lucide:moon',
        'lucide:copy', 'lucide:rotate-ccw', 'lucide:history', 'lucide:send', 'lucide:columns-3',
        'lucide:menu', 'lucide:database', 'lucide:download', 'lucide:calendar-clock', 'lucide:play',
        'lucide:pause', 'lucide:pencil', 'lucide:trash-2', 'lucide:repeat', 'lucide:external-link',
        'lucide:bell'
      ]
    },
    fallbackToApi: false
  }
})
