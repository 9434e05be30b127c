export default defineAppConfig({
  ui: {
    colors: { primary: 'emerald', neutral: 'zinc' },
    button: {
      // Nuxt UI lightens a solid button on hover (75% opacity): white text on that fails contrast in
      // light mode, so hover darkens instead. Dark mode (dark text on the 400 shade) keeps its own.
      compoundVariants: [{
        color: 'primary',
        variant: 'solid',
        class: 'hover:bg-primary-800 active:bg-primary-800 dark:hover:bg-primary/75 dark:active:bg-primary/75'
      }]
    }
  }
})
