import { test, expect, hydrated, recordApiRequests } from "./fixtures";
import type { Page } from "@playwright/test";

const count = (urls: string[], name: string) => urls.filter((u) => u === `/api/${name}`).length;

async function setVisibility(page: Page, hidden: boolean) {
  await page.evaluate((hidden) => {
    Object.defineProperty(document, "visibilityState", { value: hidden ? "hidden" : "visible", configurable: true });
    Object.defineProperty(document, "hidden", { value: hidden, configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}

test("hydration does not refetch what the server rendered", async ({ page }) => {
  const requests = recordApiRequests(page);
  await page.goto("/");
  await hydrated(page);
  await page.waitForLoadState("networkidle");
  await expect(page.getByTestId("client-cards")).toBeVisible();
  expect(requests).toEqual([]);
});

test("stats poll every 60 s, not before 30 s", async ({ page }) => {
  await page.clock.install();
  const requests = recordApiRequests(page);
  await page.goto("/");
  await hydrated(page);
  await page.clock.runFor(30_000);
  expect(count(requests, "get_overview")).toBe(0);
  await page.clock.runFor(31_000);
  await expect.poll(() => count(requests, "get_overview")).toBe(1);
  await page.clock.runFor(60_000);
  await expect.poll(() => count(requests, "get_overview")).toBe(2);
});

test("runbooks poll every 300 s, not at 60 s", async ({ page }) => {
  await page.clock.install();
  const requests = recordApiRequests(page);
  await page.goto("/runbooks");
  await hydrated(page);
  await page.clock.runFor(61_000);
  expect(count(requests, "list_runbooks")).toBe(0);
  await page.clock.runFor(240_000);
  await expect.poll(() => count(requests, "list_runbooks")).toBe(1);
});

test("nothing polls while the tab is hidden; one refetch on return", async ({ page }) => {
  await page.clock.install();
  const requests = recordApiRequests(page);
  await page.goto("/");
  await hydrated(page);
  await setVisibility(page, true);
  await page.clock.runFor(600_000);
  expect(requests).toEqual([]);
  await setVisibility(page, false);
  await expect.poll(() => count(requests, "get_overview")).toBe(1);
  await page.clock.runFor(5_000);
  expect(count(requests, "get_overview")).toBe(1);
});

test("hovering a site prefetches its detail; opening it needs no request", async ({ page }) => {
  await page.goto("/sites?status=online");
  await hydrated(page);
  const requests = recordApiRequests(page);
  const row = page.getByTestId("sites-table").locator("tbody tr").first();
  const siteId = await row.getAttribute("data-site-id");
  const prefetch = page.waitForResponse((r) => r.url().includes("/api/get_site"));
  await row.locator("td").nth(3).hover();
  await prefetch;
  expect(count(requests, "get_site")).toBe(1);

  await row.getByRole("link").first().click();
  await expect(page).toHaveURL(`/sites/${siteId}`);
  await expect(page.getByTestId("site-name")).toBeVisible();
  await expect(page.getByTestId("category-scores")).toBeVisible();
  expect(count(requests, "get_site")).toBe(1);
});

test("a site page lists every HIPAA control with its state and the checks behind it", async ({ page }) => {
  await page.goto("/sites?status=online");
  await hydrated(page);
  await page.getByTestId("sites-table").locator("tbody tr").first().getByRole("link").first().click();
  const rows = page.getByTestId("hipaa-controls").locator("tbody tr");
  await expect(rows).toHaveCount(23);
  await expect(page.locator('[data-citation="164.312(b)"]')).toContainText("Audit controls");
  await expect(page.locator('[data-citation="164.312(b)"]')).toContainText("event log forwarding");
  const states = await rows.getByTestId("control-state").allTextContents();
  expect(states.every((s) => ["pass", "failing", "no data"].includes(s))).toBe(true);
  const failing = states.filter((s) => s === "failing").length;
  await expect(page.getByTestId("hipaa-failing")).toHaveText(`${failing} of 23 controls failing`);
  for (const row of await rows.all()) {
    if ((await row.getByTestId("control-state").textContent()) === "failing") {
      await expect(row.locator("li.check-fail").first()).toBeVisible();
    }
  }
});

test("site filters live in the URL: reload and back keep them", async ({ page }) => {
  await page.goto("/sites");
  await hydrated(page);
  const total = Number((await page.getByTestId("site-count").textContent())!.split(" ")[0]);

  await page.getByTestId("status-filter").selectOption("online");
  await expect(page).toHaveURL(/status=online/);
  // The URL changes before the filtered rows arrive: wait for the count to move.
  await expect(page.getByTestId("site-count")).not.toHaveText(`${total} sites`);
  const online = await page.getByTestId("site-count").textContent();
  expect(Number(online!.split(" ")[0])).toBeLessThan(total);

  const firstName = (await page.getByTestId("sites-table").locator("tbody tr td a").first().textContent())!;
  const word = firstName.split(" ")[0];
  await page.getByTestId("site-search").fill(word);
  await expect(page).toHaveURL(new RegExp(`q=${word}`));
  // The word comes from the first row, so that row matches before and after: wait for the count.
  await expect(page.getByTestId("site-count")).not.toHaveText(online!);
  const filtered = await page.getByTestId("site-count").textContent();
  for (const name of await page.getByTestId("sites-table").locator("tbody tr").allTextContents()) {
    expect(name.toLowerCase()).toContain(word.toLowerCase());
  }

  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId("site-search")).toHaveValue(word);
  await expect(page.getByTestId("status-filter")).toHaveValue("online");
  await expect(page.getByTestId("site-count")).toHaveText(filtered!);

  await page.goBack();
  await expect(page).not.toHaveURL(/q=/);
  await expect(page.getByTestId("site-count")).toHaveText(online!);
  await expect(page.getByTestId("site-search")).toHaveValue("");
  await page.goBack();
  await expect(page).not.toHaveURL(/status=/);
  await expect(page.getByTestId("site-count")).toHaveText(`${total} sites`);
});

test("sorting by a column header is a link that keeps the filter", async ({ page }) => {
  await page.goto("/sites?status=online");
  await hydrated(page);
  await page.getByRole("link", { name: "Clinic", exact: true }).click();
  await expect(page).toHaveURL(/sort=name/);
  await expect(page).toHaveURL(/status=online/);
  await expect(page.locator('th[aria-sort="ascending"]')).toHaveText("Clinic ▲");
  const names = await page.getByTestId("sites-table").locator("tbody tr td:first-child a").allTextContents();
  expect(names).toEqual([...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
});

test("empty and error states say what happened", async ({ page, consoleErrors }) => {
  await page.goto("/sites?q=no-clinic-is-called-this");
  await expect(page.getByTestId("empty-state")).toHaveText("No sites match.");

  const response = await page.goto("/clients/999999");
  expect(response!.status()).toBe(404);
  await hydrated(page);
  await expect(page.getByTestId("error-state")).toContainText("no client with id 999999");
  await expect(page.getByRole("button", { name: "Try again" })).toBeVisible();
  // The browser logs the document's 404 status itself; nothing else may fail.
  consoleErrors.splice(0, consoleErrors.length, ...consoleErrors.filter((e) => !e.includes("404")));
});
