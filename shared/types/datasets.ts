/** The datasets a user can export, as the API lists them (the manifest is server/lib/warehouse/datasets.ts). */

export interface DatasetColumnDTO { name: string, type: string, description: string }

export interface DatasetDTO {
  id: string
  name: string
  title: string
  description: string
  time_grain: 'daily' | 'monthly'
  columns: DatasetColumnDTO[]
}
