// @ts-check
import withNuxt from './.nuxt/eslint.config.mjs'

// eslint-flat-config-utils (via @nuxt/eslint) calls Object.groupBy, which Node 20 lacks; our
// machines run Node 20. It is called when ESLint resolves the config, after this module runs.
Object.groupBy ??= (items, key) => {
  const groups = Object.create(null)
  let index = 0
  for (const item of items) (groups[key(item, index++)] ??= []).push(item)
  return groups
}

export default withNuxt({
  ignores: ['server/generated/**']
})
