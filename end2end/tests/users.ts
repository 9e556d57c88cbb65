/** The accounts the end-to-end run signs in with. The admin is the demo admin `posture seed`
 * creates; the others are added by `posture user add` before the server starts. */
export const E2E_PASSWORD = "e2e-password-1";

export const E2E_USERS = {
  admin: { email: "admin@posture.local", password: "posture-demo", role: "admin" },
  operator: { email: "operator@posture.test", password: E2E_PASSWORD, role: "operator" },
  readonly: { email: "readonly@posture.test", password: E2E_PASSWORD, role: "readonly" },
  // Only the lockout test signs in as this one: it gets locked.
  lockout: { email: "lockout@posture.test", password: E2E_PASSWORD, role: "operator" },
  // Only the two-factor test signs in as this one: it turns two-factor sign-in on.
  twofactor: { email: "twofactor@posture.test", password: E2E_PASSWORD, role: "operator" },
  // An operator who sees only the demo data's first two clients.
  scoped: { email: "scoped@posture.test", password: E2E_PASSWORD, role: "operator", clients: "1,2" },
} as const;

export type E2ERole = "admin" | "operator" | "readonly";

/** Where the signed-in browser state of a role is kept between the setup and the tests. */
export function storageFor(role: E2ERole): string {
  return `.auth/${role}.json`;
}
