import { test, expect, hydrated, recordApiRequests } from "./fixtures";
import { E2E_USERS, storageFor } from "./users";
import type { APIRequestContext } from "@playwright/test";

async function siteCount(request: APIRequestContext): Promise<number> {
  const response = await request.get("/api/list_sites?filter[q]=");
  expect(response.status()).toBe(200);
  return (await response.json()).length;
}

test.describe("as an admin", () => {
  test.use({ storageState: storageFor("admin") });
  // Both read the site count; only one may change it at a time.
  test.describe.configure({ mode: "serial" });

  test("creating a site refetches exactly the queries it affects", async ({ page }) => {
    await page.goto("/");
    await hydrated(page);
    // Visit runbooks and sites so both are in the query cache.
    await page.getByRole("link", { name: "Runbooks", exact: true }).click();
    await expect(page.getByTestId("runbooks-table")).toBeVisible();
    await page.getByRole("link", { name: "Sites", exact: true }).click();
    await expect(page.getByTestId("sites-table")).toBeVisible();
    const before = Number((await page.getByTestId("site-count").textContent())!.split(" ")[0]);
    await page.getByTestId("new-site").click();
    await expect(page.getByTestId("site-form")).toBeVisible();

    const name = `Playwright Clinic ${Date.now()}`;
    await page.getByTestId("field-clinic_name").fill(name);
    await expect(page.getByTestId("field-site_id")).toHaveValue(name.toLowerCase().replaceAll(" ", "-"));
    await page.getByTestId("field-client").selectOption({ index: 1 });
    await page.getByTestId("field-tier").selectOption("mid");
    await page.getByTestId("field-contact_email").fill("frontdesk@playwright.example.com");

    // The pointer rests off the table that replaces the form (a row under it would be
    // prefetched on hover), and the form is submitted from the keyboard.
    await page.mouse.move(5, 5);
    const requests = recordApiRequests(page);
    await page.getByTestId("save-site").press("Enter");
    await expect(page).toHaveURL(/\/sites$/);
    await expect(page.getByTestId("toast")).toContainText("created");
    await expect(page.getByTestId("sites-table")).toContainText(name);
    await expect(page.getByTestId("site-count")).toHaveText(`${before + 1} sites`);
    expect(requests).toEqual(["/api/save_site", "/api/list_sites"]);

    // The overview's stats were invalidated: going back refetches them. Runbooks were not.
    await page.getByRole("link", { name: "Overview", exact: true }).click();
    await expect.poll(() => requests).toContain("/api/get_overview");
    await page.getByRole("link", { name: "Runbooks", exact: true }).click();
    await expect(page.getByTestId("runbooks-table")).toBeVisible();
    await page.waitForTimeout(300);
    expect(requests.filter((r) => r.includes("runbook"))).toEqual([]);
  });

  test("every validation error shows next to its field, and nothing is saved", async ({ page }) => {
    const before = await siteCount(page.request);
    const existing = (await (await page.request.get("/api/list_sites?filter[q]=")).json())[0].site_id;
    await page.goto("/admin/sites/new");
    await hydrated(page);

    await page.getByTestId("save-site").click();
    await expect(page.getByTestId("error-clinic_name")).toHaveText("Clinic name is required.");
    await expect(page.getByTestId("error-client")).toHaveText("Pick a client or name a new one.");
    await expect(page.getByTestId("error-site_id")).toHaveText("Site id is required.");

    await page.getByTestId("field-clinic_name").fill("x".repeat(121));
    await expect(page.getByTestId("error-clinic_name")).toContainText("too long");
    await page.getByTestId("field-clinic_name").fill("Harbor Family Clinic");
    await expect(page.getByTestId("error-clinic_name")).toHaveCount(0);

    await page.getByTestId("field-contact_email").fill("frontdesk@");
    await expect(page.getByTestId("error-contact_email")).toContainText("not a valid email");
    await page.getByTestId("field-contact_email").fill("frontdesk@harbor.example.com");
    await expect(page.getByTestId("error-contact_email")).toHaveCount(0);

    await page.getByTestId("field-site_id").fill("Not A Slug");
    await expect(page.getByTestId("error-site_id")).toContainText("lowercase letters");

    // Rules only the server can check: a site id in use, a client that no longer exists.
    await page.getByTestId("field-site_id").fill(existing);
    await page.getByTestId("field-client").selectOption({ index: 1 });
    await page.getByTestId("save-site").click();
    await expect(page.getByTestId("error-site_id")).toContainText("already used by");

    await page.getByTestId("field-site_id").fill("harbor-family-clinic-e2e");
    await page.getByTestId("field-client").evaluate((select: HTMLSelectElement) => {
      select.options[1].value = "999999";
      select.selectedIndex = 1;
      select.dispatchEvent(new Event("change", { bubbles: true }));
    });
    await page.getByTestId("save-site").click();
    await expect(page.getByTestId("error-client")).toContainText("does not exist");
    await expect(page.getByTestId("field-client")).toHaveAttribute("aria-invalid", "true");

    expect(await siteCount(page.request)).toBe(before);
  });
});

/** Drops the console's reports of responses the test expects to be refused. */
function expectRefusals(consoleErrors: string[], status: number) {
  const rest = consoleErrors.filter((e) => !e.includes(`status of ${status}`));
  expect(rest.length).toBeLessThan(consoleErrors.length);
  consoleErrors.splice(0, consoleErrors.length, ...rest);
}

test("a read-only user sees no admin links, and a crafted create is refused", async ({ page, consoleErrors }) => {
  await page.goto("/sites");
  await hydrated(page);
  await expect(page.getByTestId("current-role")).toHaveText("readonly");
  await expect(page.getByRole("link", { name: "Admin", exact: true })).toHaveCount(0);
  await expect(page.getByTestId("new-site")).toHaveCount(0);
  await page.getByTestId("sites-table").locator("tbody tr td a").first().click();
  await expect(page.getByTestId("site-name")).toBeVisible();
  await expect(page.getByTestId("edit-site")).toHaveCount(0);

  const response = await page.request.post("/api/save_site", {
    data: {
      original: null,
      input: { clinic_name: "Sneaky Clinic", client_id: 1, site_id: "sneaky-clinic", tier: "small" },
    },
  });
  expect(response.status()).toBe(403);
  expect(await response.text()).toContain("admin role");
  // Nothing was written (the site count could move under a parallel admin test; the id can't).
  expect((await page.request.get("/api/get_site?site_id=sneaky-clinic")).status()).toBe(404);

  const form = await page.goto("/admin/sites/new");
  expect(form!.status()).toBe(403);
  await expect(page.getByTestId("error-state")).toContainText("admin role");
  expectRefusals(consoleErrors, 403);
});

test.describe("signed out", () => {
  test.use({ storageState: { cookies: [], origins: [] } });

  test("sign-in returns to the page asked for; sign-out ends the session", async ({ page }) => {
    await page.goto("/sites?status=online");
    await expect(page).toHaveURL(/\/login\?next=%2Fsites%3Fstatus%3Donline/);
    await hydrated(page);
    await page.getByTestId("login-email").fill(E2E_USERS.operator.email);
    await page.getByTestId("login-password").fill(E2E_USERS.operator.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    // A full page load (nothing of the signed-out page stays cached): allow for the WASM.
    await expect(page).toHaveURL(/\/sites\?status=online$/, { timeout: 15_000 });
    await expect(page.getByTestId("current-role")).toHaveText("operator");
    await hydrated(page);

    await page.getByTestId("sign-out").click();
    await expect(page).toHaveURL(/\/login$/, { timeout: 15_000 });
    await page.goto("/sites");
    await expect(page).toHaveURL(/\/login\?next=/);
  });

  test("five wrong passwords lock the account for 15 minutes", async ({ page, consoleErrors }) => {
    const { email, password } = E2E_USERS.lockout;
    await page.goto("/login");
    await hydrated(page);
    await page.getByTestId("login-email").fill(email);
    for (let attempt = 1; attempt <= 5; attempt++) {
      await page.getByTestId("login-password").fill(`wrong-${attempt}`);
      await page.getByRole("button", { name: "Sign in" }).click();
      await expect(page.getByTestId("login-error")).toContainText("Email or password is wrong");
    }
    // Locked: even the right password gets the same answer, which tells nothing about the lock.
    await page.getByTestId("login-password").fill(password);
    const answer = page.waitForResponse("**/api/login");
    await page.getByRole("button", { name: "Sign in" }).click();
    expect((await answer).status()).toBe(401);
    await expect(page.getByTestId("login-error")).toContainText("Email or password is wrong");
    await expect(page).toHaveURL(/\/login/);
    expectRefusals(consoleErrors, 401);
  });
});
