import { execFileSync } from "node:child_process";
import { test, expect, hydrated } from "./fixtures";
import { storageFor } from "./users";

const SECTIONS = [
  "report-summary",
  "report-compliance",
  "report-controls",
  "report-incidents",
  "report-sites",
  "report-evidence",
];

/** `posture verify-pack` on the e2e database (whose key signed the pack): exit 0 and its words. */
function verifyPack(file: string): string {
  return execFileSync(process.env.POSTURE_E2E_BIN!, ["verify-pack", file], {
    cwd: "..",
    env: { ...process.env, DATABASE_URL: process.env.POSTURE_E2E_DATABASE_URL! },
  }).toString();
}

/** Pages in a PDF: its page objects. */
function pageCount(pdf: Buffer): number {
  return (pdf.toString("latin1").match(/\/Type\s*\/Page[^s]/g) ?? []).length;
}

test("pick a client and month, read every section, download the signed pack, print to PDF", async ({ page }) => {
  await page.goto("/reports");
  await hydrated(page);
  await page.getByTestId("report-subject").selectOption({ index: 0 });
  const month = await page.getByTestId("report-month").inputValue();
  expect(month).toMatch(/^\d{4}-\d{2}$/);
  await page.getByRole("button", { name: "Open report" }).click();
  await expect(page).toHaveURL(new RegExp(`/reports/clients/\\d+/${month}$`));
  await hydrated(page);
  await expect(page.getByTestId("report-title")).toContainText("compliance report");
  for (const section of SECTIONS) await expect(page.getByTestId(section)).toBeVisible();
  await expect(page.getByTestId("report-controls").locator("tbody tr")).toHaveCount(23);
  await expect(page.getByTestId("report-severities").locator("tbody tr")).toHaveCount(4);
  await expect(page.getByTestId("report-compliance").getByTestId("trend-chart")).toBeVisible();

  const download = page.waitForEvent("download");
  await page.getByTestId("evidence-pack").click();
  const file = await (await download).path();
  expect(verifyPack(file)).toContain("files match the signed manifest");

  for (const format of ["A4", "Letter"] as const) {
    const pdf = await page.pdf({ format });
    expect(pageCount(pdf), `${format} pages`).toBeGreaterThan(1);
  }
  await page.emulateMedia({ media: "print" });
  await expect(page.locator(".sidebar")).toBeHidden();
  await expect(page.locator(".report-actions")).toBeHidden();
  for (const section of SECTIONS) await expect(page.getByTestId(section)).toBeVisible();
  const overflowing = await page.evaluate(() =>
    [...document.querySelectorAll(".report table")].filter((t) => t.scrollWidth > document.documentElement.clientWidth).length,
  );
  expect(overflowing, "tables wider than the page").toBe(0);
});

test("a report and the picker work without JavaScript", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false, storageState: storageFor("readonly") });
  const page = await context.newPage();
  await page.goto("/reports");
  await page.getByTestId("report-subject").selectOption({ index: 0 });
  await page.getByRole("button", { name: "Open report" }).click();
  await expect(page).toHaveURL(/\/reports\/clients\/\d+\/\d{4}-\d{2}$/);
  await expect(page.getByTestId("report-title")).toContainText("compliance report");
  for (const section of SECTIONS) await expect(page.getByTestId(section)).toBeVisible();
  await context.close();
});

test("a month not begun is a clear 404 page", async ({ page, consoleErrors }) => {
  const response = await page.goto("/reports/clients/1/2999-01");
  expect(response!.status()).toBe(404);
  await hydrated(page);
  await expect(page.getByTestId("error-state")).toContainText("January 2999 has not begun");
  // The browser logs the document's 404 status itself; nothing else may fail.
  consoleErrors.splice(0, consoleErrors.length, ...consoleErrors.filter((e) => !e.includes("404")));
});

test("a site's page at a past day shows that day's posture", async ({ page }) => {
  await page.goto("/reports");
  const value = await page.locator('option[value^="site:"]').first().getAttribute("value");
  const site = value!.slice("site:".length);
  await page.goto(`/sites/${site}`);
  await hydrated(page);
  const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  await page.getByTestId("day-picker").locator('input[name="at"]').fill(yesterday);
  await page.getByTestId("day-picker").getByRole("button", { name: "Show" }).click();
  await expect(page).toHaveURL(new RegExp(`/sites/${site}\\?at=${yesterday}$`));
  await expect(page.getByTestId("posture-day")).toContainText(`Posture at the end of ${yesterday}`);
  await expect(page.getByTestId("day-compliance")).toBeVisible();
  await expect(page.getByTestId("hipaa-controls").locator("tbody tr")).toHaveCount(23);
  await hydrated(page);
  await page.getByRole("link", { name: "Back to today" }).click();
  await expect(page).toHaveURL(new RegExp(`/sites/${site}$`));
  await expect(page.getByTestId("overall-compliance")).toBeVisible();
});
