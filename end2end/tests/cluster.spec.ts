import { execFileSync } from "node:child_process";
import { test, expect, hydrated, recordApiRequests, driftReport } from "./fixtures";
import { E2E_USERS } from "./users";
import { CLUSTER } from "../cluster";

// Two servers on one PostgreSQL (started by playwright.config.ts): what happens on A shows on
// B without a reload, and what ends on A is refused by B at once.

/** The `posture` command line on the cluster's database. */
function posture(...args: string[]): string {
  return execFileSync(process.env.POSTURE_E2E_BIN!, args, {
    cwd: "..",
    env: { ...process.env, DATABASE_URL: CLUSTER.databaseUrl },
  }).toString();
}

const rowCount = async (page: import("@playwright/test").Page) =>
  Number(await page.locator("[data-scroller]").getAttribute("data-row-count"));

test.use({ storageState: { cookies: [], origins: [] } });

test("two servers behind one database act as one", async ({ page, context, request }) => {
  const { email, password } = E2E_USERS.operator;
  const signIn = await context.request.post(`${CLUSTER.a}/api/login`, { form: { email, password, next: "/" } });
  expect(signIn.status(), await signIn.text()).toBe(200);

  const sites = await (await context.request.get(`${CLUSTER.a}/api/list_sites?filter[q]=`)).json();
  const site = sites[0].site_id;
  const hostname = `cluster-${Date.now()}`;
  const key = posture("appliance", "add", "--site", site, "--hostname", hostname).trim().split("\n").pop()!.trim();
  const appliance = posture("appliance", "add", "--site", site, "--hostname", `${hostname}-2`);
  const applianceId = appliance.match(/Appliance (\d+) added/)![1];
  const revokedKey = appliance.trim().split("\n").pop()!.trim();

  // The list on B, a report to A: the row appears on B, no reload.
  await page.goto(`${CLUSTER.b}/incidents?status=open`);
  await hydrated(page);
  const before = await rowCount(page);
  const report = await request.post(`${CLUSTER.a}/api/v1/reports`, {
    headers: { Authorization: `Bearer ${key}` },
    data: driftReport(site, hostname, "bitlocker_status", "critical"),
  });
  expect(report.status(), await report.text()).toBe(200);
  await expect(page.getByTestId("incident-count")).toHaveText(`${before + 1} incidents`, { timeout: 10_000 });
  await expect(page.locator('[data-row-index="0"]')).toContainText(hostname);

  // Resolved by an operator on A: B's list and count follow.
  const onA = await context.newPage();
  await onA.goto(`${CLUSTER.a}/incidents?status=open&q=${hostname}`);
  await hydrated(onA);
  await onA.locator('[data-row-index="0"]').getByTestId("row-tick").check();
  await onA.getByTestId("action-resolve").click();
  await expect(onA.getByTestId("toast")).toContainText("Resolved 1 incident");
  await expect(page.getByTestId("incident-count")).toHaveText(`${before} incidents`, { timeout: 10_000 });
  await expect(page.locator('[data-row-index="0"]')).not.toContainText(hostname);
  await onA.close();

  // The listeners' connections cut: B's page is told to refresh everything, once.
  const requests = recordApiRequests(page);
  execFileSync("psql", [
    CLUSTER.databaseUrl,
    "-qtAc",
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND datname = current_database()",
  ]);
  await expect.poll(() => requests.filter((r) => r === "/api/count_incidents").length, { timeout: 10_000 }).toBe(1);
  await page.waitForTimeout(2_000);
  expect(requests.filter((r) => r === "/api/count_incidents").length, "refreshed once").toBe(1);

  // A key revoked on the command line: B, which trusted it a moment ago, refuses it within 1 s.
  const checkin = () =>
    request.post(`${CLUSTER.b}/api/v1/checkin`, {
      headers: { Authorization: `Bearer ${revokedKey}` },
      data: { site_id: site, agent_version: "2.1.0" },
    });
  expect((await checkin()).status()).toBe(200);
  posture("appliance", "revoke", "--id", applianceId);
  const revokedAt = Date.now();
  await expect.poll(async () => (await checkin()).status(), { timeout: 1_000, intervals: [50] }).toBe(401);
  expect(Date.now() - revokedAt).toBeLessThan(1_000);

  // Signed out on A: the same cookie is refused by B at once.
  const cookie = (await context.cookies(CLUSTER.b)).map((c) => `${c.name}=${c.value}`).join("; ");
  const onB = () => request.get(`${CLUSTER.b}/api/get_overview`, { headers: { Cookie: cookie } });
  expect((await onB()).status()).toBe(200);
  const out = await context.request.post(`${CLUSTER.a}/api/logout`);
  expect(out.status()).toBe(200);
  expect((await onB()).status()).toBe(401);
});
