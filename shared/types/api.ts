/** Response shapes shared by the API and the app. Field names are snake_case, as in the PRD. */

export interface NamedItemDTO { id: string, name: string }

export interface FieldError { field: string, message: string }
