/**
 * A radio group drawn as a row of buttons (variant "card", indicator "hidden"): its radios are
 * visually hidden, so the focus ring and the checked look move onto the item around each. The item
 * is their containing block: a hidden radio placed against the dialog instead scrolled the whole
 * dialog (header out of view) when it took the focus.
 */
export const SEGMENTED_UI = {
  legend: 'mb-2 text-sm font-medium text-default',
  fieldset: 'flex-wrap gap-2',
  item: 'relative py-1.5 px-3 cursor-pointer has-focus-visible:outline-2 has-focus-visible:outline-offset-2 has-focus-visible:outline-primary has-data-[state=checked]:bg-primary/10',
  label: 'text-sm whitespace-nowrap cursor-pointer'
}
