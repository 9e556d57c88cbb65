import { createHmac } from "node:crypto";
import { test, expect, hydrated } from "./fixtures";
import { E2E_USERS } from "./users";

/** An authenticator app's code for a base32 `secret` at `at` (RFC 6238: SHA-1, 6 digits, 30 s). */
function totp(secret: string, at: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const char of secret.replace(/=+$/, "")) bits += alphabet.indexOf(char).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g)!.map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30_000)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return value.toString().padStart(6, "0");
}

test.use({ storageState: { cookies: [], origins: [] } });

test("enrol an authenticator app, then sign in with its code and with a recovery code", async ({ page, consoleErrors }) => {
  const { email, password } = E2E_USERS.twofactor;
  const signIn = async (code?: string) => {
    await page.goto("/login");
    await hydrated(page);
    await page.getByTestId("login-email").fill(email);
    await page.getByTestId("login-password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    if (code === undefined) return;
    await expect(page.getByTestId("login-error")).toContainText("6-digit code");
    await page.getByTestId("login-code").fill(code);
    await page.getByRole("button", { name: "Sign in" }).click();
  };
  const signOut = async () => {
    await hydrated(page);
    await page.getByTestId("sign-out").click();
    await expect(page).toHaveURL(/\/login/);
  };

  await signIn();
  await expect(page).toHaveURL(/\/$/);
  await page.getByTestId("current-user").click();
  await expect(page).toHaveURL(/\/account\/security$/);
  await hydrated(page);
  await expect(page.getByTestId("two-factor-state")).toContainText("Off");
  await page.getByTestId("start-two-factor").click();
  const secret = (await page.getByTestId("totp-secret").textContent())!.trim();
  await expect(page.locator(".qr svg")).toBeVisible();
  await page.getByTestId("confirm-code").fill(totp(secret, Date.now()));
  await page.getByRole("button", { name: "Turn on" }).click();
  const codes = page.getByTestId("recovery-codes").locator("li");
  await expect(codes).toHaveCount(10);
  const recovery = (await codes.nth(0).textContent())!.trim();
  await signOut();

  // The app a step ahead: a code not used yet.
  await signIn(totp(secret, Date.now() + 30_000));
  await expect(page).toHaveURL(/\/$/);
  await signOut();

  await signIn(recovery);
  await expect(page).toHaveURL(/\/$/);
  await page.goto("/account/security");
  await expect(page.getByTestId("two-factor-state")).toContainText("9 of 10 recovery codes left");
  // The browser logs the 401 that asks for the code; nothing else may fail.
  consoleErrors.splice(0, consoleErrors.length, ...consoleErrors.filter((e) => !e.includes("401")));
});
