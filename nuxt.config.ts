// https://nuxt.com/docs/api/configuration/nuxt-config
export default defineNuxtConfig({
  modules: ['@nuxt/ui', '@nuxt/eslint', 'nuxt-auth-utils'],

  devtools: { enabled: false },

  css: ['~/assets/css/main.css'],

  // Our machines have no internet: no font providers, no Iconify API; icons come from the local
  // @iconify-json/lucide collection.
  ui: { fonts: false },

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
        'lucide:triangle-alert', 'lucide:eye', 'lucide:eye-off', 'lucide:sun', 'lucide:moon'
      ]
    },
    fallbackToApi: false
  },

  future: { compatibilityVersion: 4 },

  compatibilityDate: '2026-11-01',

  nitro: {
    experimental: { tasks: true },
    scheduledTasks: { '* * * * *': ['exports:sweep'] }
  },

  typescript: {
    tsConfig: {
      compilerOptions: { allowImportingTsExtensions: true }
    }
  },

  eslint: {
    config: {
      stylistic: { commaDangle: 'never', braceStyle: '1tbs' }
    }
  }
})
