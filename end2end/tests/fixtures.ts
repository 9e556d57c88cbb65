import { execFileSync } from "node:child_process";
import { test as base, expect, type APIRequestContext, type Page } from "@playwright/test";

/** Fails the test if the page logs a console error or throws, or if the browser reports a
 * Content Security Policy violation (each is turned into a console error by an init script,
 * which the policy does not govern). */
export const test = base.extend<{ consoleErrors: string[] }>({
  consoleErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      await page.addInitScript(() => {
        document.addEventListener("securitypolicyviolation", (e) => {
          console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
        });
      });
      page.on("console", (msg) => {
        if (msg.type() === "error") errors.push(msg.text());
      });
      page.on("pageerror", (err) => errors.push(err.message));
      await use(errors);
      expect(errors, "console errors").toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

/** Waits until the WASM has hydrated the page (the app sets this attribute). The debug
 * build's WASM is large: on a busy 2-core machine compiling it can take several seconds. */
export async function hydrated(page: Page) {
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true", { timeout: 15_000 });
}

/** Signs in through the login form and waits for the overview. */
export async function signIn(page: Page, email: string, password: string) {
  await page.goto("/login");
  await hydrated(page);
  await page.getByTestId("login-email").fill(email);
  await page.getByTestId("login-password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/$/);
}

export type OverviewCounts = { clients: number; sites: number; open_incidents: number };

/** The headline counts, read through the overview server function. */
export async function countsFromApi(request: APIRequestContext): Promise<OverviewCounts> {
  const response = await request.get("/api/get_overview");
  expect(response.status()).toBe(200);
  const { stats } = await response.json();
  const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
  return { clients: stats.clients, sites: sum(stats.sites), open_incidents: sum(stats.open_incidents) };
}

/** Server-function requests the page makes (everything under /api/ but health and the one
 * long-lived event stream, which is opened once and never polled). */
export function recordApiRequests(page: Page): string[] {
  const urls: string[] = [];
  page.on("request", (r) => {
    const path = new URL(r.url()).pathname;
    if (path.startsWith("/api/") && path !== "/api/health" && path !== "/api/v1/events") urls.push(path);
  });
  return urls;
}

/** Provisions an appliance for `site` with the CLI an admin would use, on the database of the
 * main test server; returns its API key. */
export function provisionAppliance(site: string, hostname: string): string {
  const out = execFileSync(process.env.POSTURE_E2E_BIN!, ["appliance", "add", "--site", site, "--hostname", hostname], {
    cwd: "..",
    env: { ...process.env, DATABASE_URL: process.env.POSTURE_E2E_DATABASE_URL! },
  }).toString();
  return out.trim().split("\n").pop()!.trim();
}

/** A report of one failing check and its drift, as an appliance sends it. */
export function driftReport(site: string, hostname: string, checkType: string, severity: string) {
  const now = new Date().toISOString();
  return {
    site_id: site,
    checks: [{ check_type: checkType, hostname, status: "fail", checked_at: now }],
    drift: [
      { check_type: checkType, hostname, severity, state: "drifted", detected_at: now, details: { expected: "on", actual: "off" } },
    ],
  };
}
