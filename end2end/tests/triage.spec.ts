import { test, expect, hydrated, recordApiRequests } from "./fixtures";
import { storageFor } from "./users";

const count = async (page: import("@playwright/test").Page) =>
  Number(await page.locator("[data-scroller]").getAttribute("data-row-count"));

test.describe("as an operator", () => {
  test.use({ storageState: storageFor("operator") });

  test("resolving a selected row updates the row, the count and nothing else", async ({ page }) => {
    await page.goto("/incidents?status=open");
    await hydrated(page);
    const before = await count(page);
    const firstRow = page.locator('[data-row-index="0"]');
    const resolvedId = await firstRow.getByTestId("row-tick").getAttribute("aria-label");
    await firstRow.getByTestId("row-tick").check();
    await expect(page.getByTestId("ticked-count")).toHaveText("1 selected");

    const requests = recordApiRequests(page);
    await page.getByTestId("action-resolve").click();
    await expect(page.getByTestId("toast")).toContainText("Resolved 1 incident");
    await expect(page.getByTestId("incident-count")).toHaveText(`${before - 1} incidents`);
    // The resolved row left the open list: row 0 is now another incident.
    await expect(firstRow.getByTestId("row-tick")).not.toHaveAttribute("aria-label", resolvedId!);
    await expect(page.getByTestId("ticked-count")).toHaveText("Focused row");
    await page.waitForTimeout(300);
    expect(new Set(requests)).toEqual(
      new Set(["/api/act_on_incidents", "/api/count_incidents", "/api/list_incident_window"]),
    );
    expect(requests.filter((r) => r === "/api/list_incident_window").length).toBeLessThanOrEqual(2);

    // The resolved incident shows its new status and history in the unfiltered list.
    const id = resolvedId!.replace("Select incident ", "");
    await page.goto(`/incidents?q=`);
    await hydrated(page);
    const detail = await page.request.get(`/api/get_incident?id=${id}`);
    const body = await detail.json();
    expect(body.row.status).toBe("resolved");
    expect(body.history[0].action).toBe("resolve");
  });

  test("several ticked rows are escalated together", async ({ page }) => {
    await page.goto("/incidents?status=open&severity=critical");
    await hydrated(page);
    for (const index of [0, 1, 2]) {
      await page.locator(`[data-row-index="${index}"]`).getByTestId("row-tick").check();
    }
    await expect(page.getByTestId("ticked-count")).toHaveText("3 selected");
    await page.getByTestId("action-escalate").click();
    await expect(page.getByTestId("toast")).toContainText("Escalated 3 incident");
    // Still open-filtered? No: escalated is its own status, so they left this list.
    await page.goto("/incidents?status=escalated&severity=critical");
    await hydrated(page);
    expect(await count(page)).toBeGreaterThanOrEqual(3);
  });
});

test("a read-only user sees no actions", async ({ page }) => {
  await page.goto("/incidents");
  await hydrated(page);
  await expect(page.locator("[data-row]").first()).toBeVisible();
  await expect(page.getByTestId("action-bar")).toHaveCount(0);
});

test("the CSV export holds exactly the filtered rows", async ({ page }) => {
  await page.goto("/incidents");
  await hydrated(page);
  await page.getByTestId("severity-filter").selectOption("critical");
  await page.getByTestId("status-filter").selectOption("open");
  await expect(page).toHaveURL(/status=open/);
  await expect(page).toHaveURL(/severity=critical/);
  await expect(page.getByTestId("incidents-csv")).toHaveAttribute("href", /severity=critical/);
  const shown = await count(page);
  const href = await page.getByTestId("incidents-csv").getAttribute("href");
  const response = await page.request.get(href!);
  expect(response.headers()["content-disposition"]).toContain("attachment");
  const text = await response.text();
  const [header, ...rows] = text.trim().split("\n");
  expect(header).toBe("id,reported_at,site_id,clinic,hostname,check_type,category,severity,status,suppressed_until");
  expect(rows.length).toBe(shown);
  for (const row of rows) {
    // Counted from the end: a clinic's name may hold a quoted comma.
    const cells = row.split(",");
    expect(cells.at(-3)).toBe("critical");
    expect(cells.at(-2)).toBe("open");
  }
});
