declare module '#auth-utils' {
  interface User {
    id: string
    email: string
    display_name: string
  }
}

export {}
