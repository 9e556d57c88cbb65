import { test, expect, hydrated, signIn } from "./fixtures";
import { E2E_USERS, storageFor } from "./users";

type Site = { site_id: string; client_id: number; clinic_name: string };

test.use({ storageState: { cookies: [], origins: [] } });

test("a scoped operator sees only their clients, and an admin changes which", async ({ page, browser }) => {
  // Two browsers and a dozen pages on the debug build: more than the default 30 s on a busy machine.
  test.setTimeout(90_000);
  const { email, password } = E2E_USERS.scoped;
  await signIn(page, email, password);

  const clients: { id: number; name: string }[] = await (await page.request.get("/api/list_clients")).json();
  expect(clients.map((c) => c.id).sort()).toEqual([1, 2]);
  const sites: Site[] = await (await page.request.get("/api/list_sites?filter[q]=")).json();
  expect(sites.length).toBeGreaterThan(0);
  expect(new Set(sites.map((s) => s.client_id))).toEqual(new Set([1, 2]));
  const slugs = new Set(sites.map((s) => s.site_id));
  const clinics = new Set(sites.map((s) => s.clinic_name));

  // The overview counts their clients only.
  await hydrated(page);
  await expect(page.getByTestId("kpi-clients").locator(".kpi-value")).toHaveText("2");

  await page.goto("/clients");
  const cards = page.getByTestId("client-cards").locator(".card-title");
  await expect(cards).toHaveCount(2);
  const shown = await cards.allInnerTexts();
  expect(shown.sort()).toEqual(clients.map((c) => c.name).sort());

  await page.goto("/sites");
  const rows = page.getByTestId("sites-table").locator("tbody tr[data-site-id]");
  await expect(rows).toHaveCount(sites.length);
  for (const slug of await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-site-id")))) {
    expect(slugs.has(slug!)).toBe(true);
  }

  await page.goto("/incidents");
  await hydrated(page);
  const incidentSites = page.getByTestId("row-site");
  await expect(incidentSites.first()).toBeVisible();
  for (const clinic of await incidentSites.allInnerTexts()) {
    expect(clinics.has(clinic.trim())).toBe(true);
  }

  // The export holds the same incidents: their sites', as many as the list counts.
  const total = Number(await (await page.request.get("/api/count_incidents?filter[sort]=reported")).text());
  const csv = await (await page.request.get("/incidents.csv")).text();
  const lines = csv.trim().split("\n").slice(1);
  expect(lines.length).toBe(total);
  for (const line of lines) expect(slugs.has(line.split(",")[2])).toBe(true);

  // Another client's site is not there at all.
  const admin = await browser.newPage({ storageState: storageFor("admin") });
  const everyone: Site[] = await (await admin.request.get("/api/list_sites?filter[q]=")).json();
  const elsewhere = everyone.find((s) => ![1, 2].includes(s.client_id))!;
  expect((await page.request.get(`/sites/${elsewhere.site_id}`)).status()).toBe(404);

  // An admin adds a third client on /admin/users; the operator sees it at their next request.
  await admin.goto("/admin/users");
  await hydrated(admin);
  const row = admin.locator(`[data-testid=user-row][data-email="${email}"]`);
  await expect(row.getByTestId("client-picker-summary")).toContainText("2 clients: ");
  await row.getByTestId("client-picker-summary").click();
  const third = row.locator("[data-testid=client-choice][data-client-id='3']");
  await third.check();
  await expect(row.getByTestId("client-picker-summary")).toContainText("3 clients: ");
  await row.getByTestId("save-user-clients").click();
  await expect(admin.getByTestId("toast")).toContainText("Clients saved.");
  await expect
    .poll(async () => (await (await page.request.get("/api/list_clients")).json()).length)
    .toBe(3);
  // Saving reloads the list: the row's picker is a new, closed one.
  await expect(row.getByTestId("client-picker-summary")).toContainText("3 clients: ");
  await row.getByTestId("client-picker").evaluate((details: HTMLDetailsElement) => (details.open = true));
  await row.locator("[data-testid=client-choice][data-client-id='3']").uncheck();
  await row.getByTestId("save-user-clients").click();
  await expect
    .poll(async () => (await (await page.request.get("/api/list_clients")).json()).length)
    .toBe(2);
  await admin.close();
});
