import { test, expect, hydrated } from "./fixtures";
import { storageFor } from "./users";

test("the list keeps the DOM small while scrolling and reaches the last row", async ({ page }) => {
  await page.goto("/incidents");
  await hydrated(page);
  const scroller = page.locator("[data-scroller]");
  const total = Number(await scroller.getAttribute("data-row-count"));
  expect(total).toBeGreaterThan(10_000);
  await expect(page.getByTestId("incident-count")).toHaveText(`${total} incidents`);

  let most = 0;
  for (let step = 0; step < 60; step++) {
    await scroller.evaluate((el) => (el.scrollTop += 800));
    most = Math.max(most, await page.locator("[data-row]").count());
  }
  expect(most).toBeLessThanOrEqual(30);

  await scroller.evaluate((el) => (el.scrollTop = el.scrollHeight));
  const last = page.locator(`[data-row-index="${total - 1}"]`);
  await expect(last).toBeVisible();
  await expect(last).not.toContainText("loading");
});

test("rows are rendered on the server before any script runs", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false, storageState: storageFor("readonly") });
  const page = await context.newPage();
  await page.goto("/incidents");
  await expect(page.locator('[data-row-index="0"]')).not.toContainText("loading");
  await context.close();
});

test("the severity filter changes the count and the rows", async ({ page }) => {
  await page.goto("/incidents");
  await hydrated(page);
  const all = Number(await page.locator("[data-scroller]").getAttribute("data-row-count"));
  await page.getByTestId("severity-filter").selectOption("critical");
  await expect(page).toHaveURL(/severity=critical/);
  await expect(page.locator("[data-scroller]")).not.toHaveAttribute("data-row-count", String(all));
  const critical = Number(await page.locator("[data-scroller]").getAttribute("data-row-count"));
  expect(critical).toBeGreaterThan(0);
  expect(critical).toBeLessThan(all);
  const severities = await page.locator("[data-row] [class^='severity-']").allTextContents();
  expect(new Set(severities)).toEqual(new Set(["critical"]));
});

test("a row names its clinic, and the name leads to the site, not the detail panel", async ({ page }) => {
  await page.goto("/incidents");
  await hydrated(page);
  const clinic = page.locator('[data-row-index="0"]').getByTestId("row-site");
  const name = (await clinic.textContent())?.trim() ?? "";
  expect(name.length).toBeGreaterThan(0);
  const href = await clinic.getAttribute("href");
  expect(href).toMatch(/^\/sites\/[a-z0-9-]+$/);
  await clinic.click();
  await expect(page).toHaveURL(new RegExp(`${href}$`));
  await expect(page.getByTestId("site-name")).toHaveText(name);
  await expect(page.getByTestId("incident-detail")).toHaveCount(0);
});

test("the keyboard moves the selection and opens the row", async ({ page }) => {
  await page.goto("/incidents");
  await hydrated(page);
  const scroller = page.locator("[data-scroller]");
  const total = Number(await scroller.getAttribute("data-row-count"));
  await scroller.focus();
  await page.keyboard.press("j");
  await page.keyboard.press("j");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("k");
  await expect(page.locator('[data-row-index="1"]')).toHaveClass(/selected/);
  await expect(page.getByTestId("incident-detail")).toHaveCount(0);
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("incident-detail")).toBeVisible();
  // What the check expected and found: a drift's "pass", or an appliance's check-ins.
  await expect(page.getByTestId("expected-actual")).toContainText(/^Expected(pass|a check-in).*Found./);
  await page.keyboard.press("End");
  const last = page.locator(`[data-row-index="${total - 1}"]`);
  await expect(last).toHaveClass(/selected/);
  await expect(last).toBeVisible();
  await expect(last).not.toContainText("loading");
  await page.keyboard.press("Home");
  await expect(page.locator('[data-row-index="0"]')).toHaveClass(/selected/);
});
