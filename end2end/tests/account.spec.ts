import { test, expect, hydrated } from "./fixtures";

test("make an API token, see it once, read with it, revoke it", async ({ page, playwright }) => {
  await page.goto("/account/security");
  await hydrated(page);
  const name = `e2e script ${Date.now()}`;
  await page.getByTestId("token-name").fill(name);
  await page.getByRole("button", { name: "Make a token" }).click();
  const token = (await page.getByTestId("new-token").textContent())!.trim();
  expect(token).toMatch(/^pst_[0-9a-f]{64}$/);
  const row = page.getByTestId("token-list").locator("tr", { hasText: name });
  await expect(row).toContainText("live");

  const script = await playwright.request.newContext({ baseURL: page.url(), extraHTTPHeaders: { Authorization: `Bearer ${token}` } });
  expect((await script.get("/api/list_clients")).status()).toBe(200);

  await row.getByRole("button", { name: "Revoke" }).click();
  await expect(row).toContainText("revoked");
  await expect(page.getByTestId("new-token")).toBeVisible();
  expect((await script.get("/api/list_clients")).status()).toBe(401);
  await script.dispose();
});
