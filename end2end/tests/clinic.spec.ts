import { test, expect, hydrated, signIn } from "./fixtures";
import { storageFor } from "./users";

test.use({ storageState: { cookies: [], origins: [] } });

test("an admin invites clinic staff, who join by the link once and see only their clinic", async ({ page, browser }) => {
  // Two browsers and a dozen pages on the debug build: more than the default 30 s on a busy machine.
  test.setTimeout(90_000);
  const email = `frontdesk-${Date.now()}@clinic.test`;
  const password = "clinic-password-1";

  // The admin makes the link on /admin/users.
  const admin = await browser.newPage({ storageState: storageFor("admin") });
  await admin.goto("/admin/users");
  await hydrated(admin);
  const form = admin.getByTestId("invite-staff-form");
  const client = form.getByTestId("invite-client");
  await expect(client.locator("option")).not.toHaveCount(1);
  await client.selectOption({ index: 1 });
  const clientName = (await client.locator("option:checked").textContent())!.trim();
  await form.getByTestId("invite-email").fill(email);
  await form.getByTestId("invite").click();
  const link = (await admin.getByTestId("invite-link").locator("code").textContent())!.trim();
  expect(link).toMatch(/\/invite\/[0-9a-f]{64}$/);
  await admin.close();

  // The clinic's staff member opens it signed out, and chooses a name and password.
  await page.goto(link);
  await hydrated(page);
  await expect(page.getByTestId("invite-intro")).toContainText(clientName);
  await expect(page.getByTestId("invite-intro")).toContainText(email);
  await page.getByTestId("invite-name").fill("Front desk");
  await page.getByTestId("invite-password").fill(password);
  await page.getByRole("button", { name: "Create my account" }).click();
  await expect(page.getByTestId("invite-ready")).toBeVisible();

  // The link works once.
  const again = await page.request.get(link);
  expect(again.status()).toBe(404);
  expect(await again.text()).toContain("used already");

  await signIn(page, email, password);
  await hydrated(page);

  // The portal: their client only, no runbooks or admin, no appliance details.
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Reports" })).toBeVisible();
  await expect(nav.getByRole("link", { name: "Runbooks" })).toHaveCount(0);
  await expect(nav.getByRole("link", { name: "Admin" })).toHaveCount(0);
  await expect(page.getByTestId("kpi-clients").locator(".kpi-value")).toHaveText("1");
  await page.goto("/clients");
  await expect(page.getByTestId("client-cards").locator(".card-title")).toHaveText([clientName]);
  await page.goto("/sites");
  const first = page.getByTestId("sites-table").locator("tbody tr[data-site-id]").first();
  const slug = await first.getAttribute("data-site-id");
  await page.goto(`/sites/${slug}`);
  await hydrated(page);
  await expect(page.getByTestId("category-scores")).toBeVisible();
  await expect(page.getByRole("heading", { name: "Appliances" })).toHaveCount(0);
  await expect(page.getByRole("heading", { name: "Pending orders" })).toHaveCount(0);
  await page.goto("/reports");
  const clients = page.getByTestId("report-subject").locator("optgroup[label=Clients] option");
  await expect(clients).toHaveText([clientName]);
  await page.getByRole("button", { name: "Open report" }).click();
  await expect(page).toHaveURL(/\/reports\/clients\/\d+\/\d{4}-\d{2}$/);
  await expect(page.getByRole("heading", { level: 1 }).first()).toBeVisible();
  expect((await page.request.get("/api/list_runbooks?filter[q]=")).status()).toBe(403);
});
