import { defineConfig } from "@playwright/test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Every run gets a throwaway database, seeded with the demo data, and the server `make test`
// just built (POSTURE_BIN; the debug build by default).
const port = Number(process.env.POSTURE_E2E_PORT ?? 3100);
const databaseUrl = `sqlite://${join(mkdtempSync(join(tmpdir(), "posture-e2e-")), "e2e.db")}`;
const bin = process.env.POSTURE_BIN ?? "target/debug/posture";

export default defineConfig({
  testDir: "./tests",
  fullyParallel: true,
  workers: 2,
  forbidOnly: true,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: {
    command: `${bin} seed --if-empty && exec ${bin} serve --addr 127.0.0.1:${port}`,
    cwd: "..",
    url: `http://127.0.0.1:${port}/health`,
    reuseExistingServer: false,
    timeout: 60_000,
    env: { DATABASE_URL: databaseUrl, RUST_LOG: "warn" },
  },
});
