import { test, expect, hydrated, provisionAppliance, driftReport } from "./fixtures";
import { storageFor } from "./users";

// An admin sets up a channel and a rule; a critical drift through the appliance API becomes a
// mail in the real SMTP server (scripts/test-services.sh) and a row of the delivery log; a
// maintenance window then holds the next alert back and the log says so.

test.use({ storageState: storageFor("admin") });

type Mail = { rcpt_tos: string[]; subject: string };

test("a critical drift reaches the mailbox, and a maintenance window holds the next one back", async ({ page, request }) => {
  const messagesUrl = process.env.TEST_SMTP_MESSAGES_URL;
  expect(messagesUrl, "run under scripts/test-services.sh").toBeTruthy();
  const mailsTo = async (address: string): Promise<Mail[]> =>
    ((await (await request.get(messagesUrl!)).json()) as Mail[]).filter((m) => m.rcpt_tos.includes(address));

  const stamp = Date.now();
  const address = `on-call-${stamp}@clinic.example`;
  await page.goto("/admin/alerts");
  await hydrated(page);
  await page.getByTestId("channel-name").fill(`On call ${stamp}`);
  await page.getByTestId("channel-target").fill(address);
  await page.getByTestId("add-channel").click();
  const channel = page.locator(`[data-testid="channel-row"][data-name="On call ${stamp}"]`);
  await expect(channel).toBeVisible();
  await channel.getByTestId("send-test").click();
  await expect(channel.getByTestId("test-answer")).toContainText("Delivered: SMTP 250");

  await page.getByTestId("rule-name").fill(`Critical ${stamp}`);
  await page.getByTestId("rule-severity").selectOption("critical");
  await page.getByTestId("rule-channels").getByText(`On call ${stamp}`).click();
  await page.getByTestId("add-rule").click();
  await expect(page.getByTestId("rules-table")).toContainText(`Critical ${stamp}`);

  const sites = await (await page.request.get("/api/list_sites?filter[q]=")).json();
  const site = sites[1].site_id;
  const clinic = sites[1].clinic_name;
  const hostname = `alert-${stamp}`;
  const key = provisionAppliance(site, hostname);
  const send = async (checkType: string) => {
    const response = await page.request.post("/api/v1/reports", {
      headers: { Authorization: `Bearer ${key}` },
      data: driftReport(site, hostname, checkType, "critical"),
    });
    expect(response.status(), await response.text()).toBe(200);
  };

  await send("bitlocker_status");
  await expect.poll(async () => (await mailsTo(address)).map((m) => m.subject), { timeout: 10_000 }).toContain(
    `[critical] bitlocker_status failing at ${clinic} (${hostname})`,
  );
  await page.reload();
  await hydrated(page);
  const sent = page.getByTestId("delivery-row").filter({ hasText: hostname });
  await expect(sent.first()).toHaveAttribute("data-status", "sent");

  // A window over this site from five minutes ago for an hour, entered in UTC.
  const local = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString().slice(0, 16);
  await page.goto("/admin/maintenance");
  await hydrated(page);
  await page.getByTestId("window-site").fill(site);
  await page.getByTestId("window-reason").fill(`Patch night ${stamp}`);
  await page.getByTestId("window-start").fill(local(-5));
  await page.getByTestId("window-end").fill(local(60));
  await page.getByTestId("add-window").click();
  const window = page.getByTestId("window-row").filter({ hasText: `Patch night ${stamp}` });
  await expect(window).toHaveAttribute("data-active", "true");

  // The site's page and the overview say alerts are held back.
  for (const path of [`/sites/${site}`, "/"]) {
    await page.goto(path);
    await hydrated(page);
    await expect(page.getByTestId("maintenance-notice")).toContainText(`Under way: alerts held back`);
    await expect(page.getByTestId("maintenance-notice")).toContainText(`Patch night ${stamp}`);
  }
  await page.goto("/admin/maintenance");
  await hydrated(page);

  // A window ending before it starts is refused where it was entered.
  await page.getByTestId("window-site").fill(site);
  await page.getByTestId("window-reason").fill("Backwards");
  await page.getByTestId("window-start").fill(local(120));
  await page.getByTestId("window-end").fill(local(110));
  await page.getByTestId("add-window").click();
  await expect(page.getByTestId("error-end")).toHaveText("The window ends before it starts.");

  await send("defender_status");
  await page.goto("/admin/alerts");
  await hydrated(page);
  const held = page.getByTestId("delivery-row").filter({ hasText: "defender_status" });
  await expect(held.first()).toHaveAttribute("data-status", "suppressed");
  await expect(held.first()).toContainText(`Patch night ${stamp}`);
  expect((await mailsTo(address)).filter((m) => m.subject.includes(hostname))).toHaveLength(1);
});

test("a silent rule takes its thresholds from the form, which refuses one a rule cannot have", async ({ page }) => {
  const stamp = Date.now();
  await page.goto("/admin/alerts");
  await hydrated(page);
  await page.getByTestId("channel-name").fill(`Silence ${stamp}`);
  await page.getByTestId("channel-target").fill(`silence-${stamp}@msp.example`);
  await page.getByTestId("add-channel").click();
  await expect(page.locator(`[data-testid="channel-row"][data-name="Silence ${stamp}"]`)).toBeVisible();

  await page.getByTestId("rule-name").fill(`Silent ${stamp}`);
  await page.getByTestId("rule-event").selectOption("silent");
  await expect(page.getByTestId("rule-below-percent")).toHaveCount(0);
  await page.getByTestId("rule-warn-after").fill("5");
  await page.getByTestId("rule-channels").getByText(`Silence ${stamp}`).click();
  await page.getByTestId("add-rule").click();
  await expect(page.getByTestId("error-warn_after_minutes")).toContainText("until then a site still counts as online");
  await expect(page.getByTestId("rule-row").filter({ hasText: `Silent ${stamp}` })).toHaveCount(0);

  await page.getByTestId("rule-warn-after").fill("30");
  await page.getByTestId("rule-critical-after").fill("120");
  await page.getByTestId("rule-repeat").selectOption({ label: "Every 4 hours" });
  await page.getByTestId("add-rule").click();
  const row = page.getByTestId("rule-row").filter({ hasText: `Silent ${stamp}` });
  await expect(row).toContainText("a site is silent 30 min, and again at 2 h; again every 4 h until resolved; and when it clears");
});
