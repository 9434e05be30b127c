/**
 * A radio group drawn as a row of buttons (variant "card", indicator "hidden"): its radios are
 * visually hidden, so the focus ring and the checked look move onto the item around each.
 */
export const SEGMENTED_UI = {
  legend: 'mb-2 text-sm font-medium text-default',
  fieldset: 'flex-wrap gap-2',
  item: 'py-1.5 px-3 cursor-pointer has-focus-visible:outline-2 has-focus-visible:outline-offset-2 has-focus-visible:outline-primary has-data-[state=checked]:bg-primary/10',
  label: 'text-sm whitespace-nowrap cursor-pointer'
}
