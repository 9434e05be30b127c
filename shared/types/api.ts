/** Response shapes shared by the API and the app. Field names are snake_case, as in the PRD. */

export interface DatasetColumnDTO { name: string, type: string, description: string }

export interface DatasetDTO {
  id: string
  name: string
  title: string
  description: string
  time_grain: 'daily' | 'monthly'
  columns: DatasetColumnDTO[]
}

export interface NamedItemDTO { id: string, name: string }

export interface FieldError { field: string, message: string }

export interface SessionUser { id: string, email: string, display_name: string }
