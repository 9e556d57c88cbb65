import { defineConfig } from "@playwright/test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { E2E_PASSWORD, E2E_USERS, storageFor } from "./tests/users";
import { CLUSTER } from "./cluster";

// Every run gets a throwaway database, seeded with the demo data, and the server `make test`
// just built (POSTURE_BIN; the debug build by default).
const port = Number(process.env.POSTURE_E2E_PORT ?? 3100);
// Workers load this file again: they must reuse the main process's database, not make one.
const databaseUrl =
  process.env.POSTURE_E2E_DATABASE_URL ??
  `sqlite://${join(mkdtempSync(join(tmpdir(), "posture-e2e-")), "e2e.db")}`;
const bin = process.env.POSTURE_BIN ?? "target/debug/posture";
// Tests that provision an appliance run the same binary on the same database.
process.env.POSTURE_E2E_DATABASE_URL = databaseUrl;
process.env.POSTURE_E2E_BIN = bin;

const addUsers = Object.values(E2E_USERS)
  .filter(({ password }) => password === E2E_PASSWORD)
  .map((user) => {
    const clients = "clients" in user ? ` --clients ${user.clients}` : "";
    return `${bin} user add --email ${user.email} --role ${user.role}${clients}`;
  });
// The silence sweep would open incidents for the demo data's stale sites while tests count
// incidents; it is tested in server/tests/it/alerts.rs.
const serveFlags = "--sign-in-per-minute 600 --min-free-disk-mb 64 --silence-sweep-secs 0";

export default defineConfig({
  testDir: "./tests",
  fullyParallel: true,
  workers: 2,
  forbidOnly: true,
  retries: 0,
  reporter: [["list"]],
  projects: [
    { name: "sign-in", testMatch: /auth\.setup\.ts/ },
    // Tests run as a read-only user unless they ask for another role.
    {
      name: "chromium",
      dependencies: ["sign-in"],
      testIgnore: /(admin|triage|live|alerts|cluster)\.spec\.ts/,
      use: { storageState: storageFor("readonly") },
    },
    // Tests that add sites run last, so the counts other tests read never move under them.
    {
      name: "admin",
      dependencies: ["chromium"],
      testMatch: /(admin|triage)\.spec\.ts/,
      use: { storageState: storageFor("readonly") },
    },
    // Appliance reports reach every open dashboard through the event stream: alone, late.
    {
      name: "live",
      dependencies: ["admin"],
      testMatch: /live\.spec\.ts/,
      use: { storageState: storageFor("readonly") },
    },
    // Reports that raise alerts, and a maintenance window every page then shows: last.
    { name: "alerts", dependencies: ["live"], testMatch: /alerts\.spec\.ts/ },
    // Two servers on one PostgreSQL, a database of their own: runs beside the others.
    { name: "cluster", testMatch: /cluster\.spec\.ts/ },
  ],
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
  webServer: [
    {
      command: [
        `${bin} seed --if-empty`,
        ...addUsers,
        // Every test signs in from 127.0.0.1: the per-address sign-in throttle (tested in
        // server/tests/it/accounts.rs) is raised so the suite is never slowed by it. The free-disk
        // floor is lowered because a CI machine's disk is shared with build output; the check
        // itself is tested in server/tests/it/health.rs.
        `exec ${bin} serve --addr 127.0.0.1:${port} ${serveFlags}`,
      ].join(" && "),
      cwd: "..",
      url: `http://127.0.0.1:${port}/health`,
      reuseExistingServer: false,
      timeout: 60_000,
      // Alert mail goes to the SMTP server scripts/test-services.sh started.
      env: {
        DATABASE_URL: databaseUrl,
        RUST_LOG: "warn",
        POSTURE_USER_PASSWORD: E2E_PASSWORD,
        ...(process.env.TEST_SMTP_URL ? { POSTURE_SMTP_URL: process.env.TEST_SMTP_URL } : {}),
      },
    },
    // A: a fresh database with a small data set, then the server.
    {
      command: [
        `psql "${CLUSTER.serverDatabaseUrl}" -qc "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS posture_e2e_cluster WITH (FORCE)" -c "CREATE DATABASE posture_e2e_cluster"`,
        `${bin} seed --incidents 2000`,
        ...addUsers,
        `exec ${bin} serve --addr 127.0.0.1:${CLUSTER.portA} ${serveFlags}`,
      ].join(" && "),
      cwd: "..",
      url: `${CLUSTER.a}/health`,
      reuseExistingServer: false,
      timeout: 120_000,
      env: { DATABASE_URL: CLUSTER.databaseUrl, RUST_LOG: "warn", POSTURE_USER_PASSWORD: E2E_PASSWORD },
    },
    // B: once A has made the database.
    {
      command: [
        `until curl -fs ${CLUSTER.a}/health >/dev/null; do sleep 0.2; done`,
        `exec ${bin} serve --addr 127.0.0.1:${CLUSTER.portB} ${serveFlags}`,
      ].join("; "),
      cwd: "..",
      url: `${CLUSTER.b}/health`,
      reuseExistingServer: false,
      timeout: 120_000,
      env: { DATABASE_URL: CLUSTER.databaseUrl, RUST_LOG: "warn" },
    },
  ],
});
