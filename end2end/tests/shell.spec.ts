import { test, expect, hydrated, countsFromApi } from "./fixtures";

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the server-rendered overview shows the counts", async ({ page, request }) => {
    const counts = await countsFromApi(request);
    expect(counts.clients).toBeGreaterThan(0);
    await page.goto("/");
    await expect(page.getByTestId("kpi-clients").locator(".kpi-value")).toHaveText(String(counts.clients));
    await expect(page.getByTestId("kpi-sites").locator(".kpi-value")).toHaveText(String(counts.sites));
    await expect(page.getByTestId("kpi-open-incidents").locator(".kpi-value")).toHaveText(
      String(counts.open_incidents),
    );
    await expect(page.getByTestId("page-title")).toHaveText("Overview");
    await expect(page.locator("html")).not.toHaveAttribute("data-hydrated", "true");
  });
});

test("the page hydrates and marks <html>", async ({ page }) => {
  await page.goto("/");
  await hydrated(page);
  await expect(page.getByTestId("updated-ago")).toContainText("updated");
});

test("the theme toggle works after hydration and survives a reload", async ({ page }) => {
  await page.goto("/");
  await hydrated(page);
  const html = page.locator("html");
  const before = await html.getAttribute("data-theme");
  const after = before === "dark" ? "light" : "dark";

  await page.getByTestId("theme-toggle").click();
  await expect(html).toHaveAttribute("data-theme", after);

  // The server renders the remembered theme itself, so there is no flash of the old one.
  const response = await page.reload();
  expect(await response!.text()).toContain(`data-theme="${after}"`);
  await hydrated(page);
  await expect(html).toHaveAttribute("data-theme", after);
});

test("a server function round-trips from the browser", async ({ page, request }) => {
  const counts = await countsFromApi(request);
  await page.goto("/clients");
  await hydrated(page);
  const call = page.waitForResponse((r) => r.url().includes("/api/get_overview"));
  await page.getByRole("link", { name: "Overview" }).click();
  const response = await call;
  expect(response.status()).toBe(200);
  await expect(page.getByTestId("kpi-clients").locator(".kpi-value")).toHaveText(String(counts.clients));
  await expect(page).toHaveURL("/");
});

test("readiness answers 200 with every check ok", async ({ request }) => {
  const response = await request.get("/api/health");
  const body = await response.json();
  expect(response.status(), JSON.stringify(body)).toBe(200);
  expect(body.status).toBe("ok");
  for (const check of ["database", "migrations", "disk", "cache"]) {
    expect(body.checks[check].status, check).toBe("ok");
    expect(typeof body.checks[check].latency_ms).toBe("number");
  }
});

test("an unknown route shows the 404 page", async ({ page, consoleErrors }) => {
  const response = await page.goto("/no/such/page");
  expect(response!.status()).toBe(404);
  await expect(page.getByTestId("not-found")).toBeVisible();
  await expect(page.getByTestId("page-title")).toHaveText("Not found");
  await hydrated(page);
  // The browser itself logs the 404 status of the document; nothing else may fail.
  consoleErrors.splice(0, consoleErrors.length, ...consoleErrors.filter((e) => !e.includes("404")));
});

test("another origin cannot frame the dashboard", async ({ page, baseURL, consoleErrors }) => {
  await page.setContent(`<iframe src="${baseURL}/login"></iframe>`);
  const frame = page.frames().find((f) => f !== page.mainFrame());
  expect(frame).toBeDefined();
  await frame!.waitForLoadState();
  await expect(frame!.getByTestId("login-form")).toHaveCount(0);
  expect(consoleErrors.some((e) => e.includes("X-Frame-Options"))).toBe(true);
  // The browser reports the refusal; that is the point here, not a failure.
  consoleErrors.splice(0, consoleErrors.length, ...consoleErrors.filter((e) => !e.includes("X-Frame-Options")));
});
