import { test as setup, expect } from "@playwright/test";
import { E2E_USERS, storageFor, type E2ERole } from "./users";

for (const role of ["admin", "operator", "readonly"] as E2ERole[]) {
  setup(`sign in as ${role}`, async ({ request }) => {
    const { email, password } = E2E_USERS[role];
    const response = await request.post("/api/login", { form: { email, password, next: "/" } });
    expect(response.status(), await response.text()).toBe(200);
    await request.storageState({ path: storageFor(role) });
  });
}
