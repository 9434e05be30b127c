declare module '#auth-utils' {
  interface User {
    id: string
    email: string
    display_name: string
  }
  // Sealed in the cookie, never sent to the browser: the server-side session it belongs to
  // (server/lib/auth/sessions.ts).
  interface SecureSessionData {
    sessionId: string
  }
}

export {}
