import { execFileSync } from "node:child_process";
import { test, expect, hydrated } from "./fixtures";

/** Provisions an appliance for `site` with the CLI an admin would use; returns its API key. */
function provisionAppliance(site: string, hostname: string): string {
  const out = execFileSync(process.env.POSTURE_E2E_BIN!, ["appliance", "add", "--site", site, "--hostname", hostname], {
    cwd: "..",
    env: { ...process.env, DATABASE_URL: process.env.POSTURE_E2E_DATABASE_URL! },
  }).toString();
  return out.trim().split("\n").pop()!.trim();
}

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

  const now = new Date().toISOString();
  const response = await page.request.post("/api/v1/reports", {
    headers: { Authorization: `Bearer ${key}` },
    data: {
      site_id: site,
      checks: [{ check_type: "bitlocker_status", hostname, status: "fail", checked_at: now }],
      drift: [
        {
          check_type: "bitlocker_status",
          hostname,
          severity: "critical",
          state: "drifted",
          detected_at: now,
          details: { expected: "on", actual: "off" },
        },
      ],
    },
  });
  expect(response.status(), await response.text()).toBe(200);

  // No reload, no waiting for the 60 s poll: the event stream names what changed.
  await expect(page.getByTestId("incident-count")).toHaveText(`${before + 1} incidents`, { timeout: 10_000 });
  await expect(page.locator('[data-row-index="0"]')).toContainText(hostname);
  await expect(openValue).toHaveText(String(openBefore + 1), { timeout: 10_000 });
});
