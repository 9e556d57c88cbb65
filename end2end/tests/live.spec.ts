import { test, expect, hydrated, provisionAppliance, driftReport } from "./fixtures";

test("an incident sent through the appliance API appears on open pages without a reload", async ({ page, context }) => {
  const sites = await (await page.request.get("/api/list_sites?filter[q]=")).json();
  const site = sites[0].site_id;
  const hostname = `live-${Date.now()}`;
  const key = provisionAppliance(site, hostname);
  expect(key).toMatch(/^pst_/);

  await page.goto("/incidents");
  await hydrated(page);
  const before = Number(await page.locator("[data-scroller]").getAttribute("data-row-count"));
  const overview = await context.newPage();
  await overview.goto("/");
  await hydrated(overview);
  const openValue = overview.getByTestId("kpi-open-incidents").locator(".kpi-value");
  const openBefore = Number(await openValue.textContent());

  const response = await page.request.post("/api/v1/reports", {
    headers: { Authorization: `Bearer ${key}` },
    data: driftReport(site, hostname, "bitlocker_status", "critical"),
  });
  expect(response.status(), await response.text()).toBe(200);

  // No reload, no waiting for the 60 s poll: the event stream names what changed.
  await expect(page.getByTestId("incident-count")).toHaveText(`${before + 1} incidents`, { timeout: 10_000 });
  await expect(page.locator('[data-row-index="0"]')).toContainText(hostname);
  await expect(openValue).toHaveText(String(openBefore + 1), { timeout: 10_000 });
});
