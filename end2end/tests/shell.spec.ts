import { test, expect, hydrated, countsFromApi } from "./fixtures";
import { storageFor } from "./users";

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
  const refusal = (e: string) => e.includes("frame-ancestors");
  expect(consoleErrors.some(refusal)).toBe(true);
  // The browser reports the refusal; that is the point here, not a failure.
  consoleErrors.splice(0, consoleErrors.length, ...consoleErrors.filter((e) => !refusal(e)));
});

test("every page loads under the Content Security Policy with no violation", async ({ browser }) => {
  const admin = await browser.newPage({ storageState: storageFor("admin") });
  const violations: string[] = [];
  admin.on("console", (msg) => {
    if (msg.type() === "error") violations.push(msg.text());
  });
  await admin.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => console.error(`CSP violation: ${e.violatedDirective}`));
  });
  const firstLink = async (list: string, prefix: string) => {
    await admin.goto(list);
    return (await admin.locator(`a[href^='${prefix}']`).first().getAttribute("href"))!;
  };
  const siteHref = await firstLink("/sites", "/sites/");
  const clientHref = await firstLink("/clients", "/clients/");
  const runbookHref = await firstLink("/runbooks", "/runbooks/");
  const pages = ["/", "/clients", clientHref, "/sites", siteHref, `${siteHref}/edit`, "/incidents", "/runbooks", runbookHref,
    "/admin", "/admin/sites/new", "/admin/users", "/admin/audit", "/login"];
  for (const path of pages) {
    const response = await admin.goto(path);
    const csp = response!.headers()["content-security-policy"];
    expect(csp, path).toContain("script-src 'self' 'nonce-");
    await hydrated(admin);
  }
  // Off to another page in the app by a click, so client-side rendering runs under the policy too.
  await admin.goto("/");
  await hydrated(admin);
  await admin.getByRole("link", { name: "Incidents", exact: true }).click();
  await expect(admin).toHaveURL(/\/incidents/);
  await expect(admin.locator("[data-row]").first()).toBeVisible();
  expect(violations, "CSP violations or errors").toEqual([]);
  await admin.close();
});
