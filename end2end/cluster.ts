/** Two servers on one PostgreSQL database for `tests/cluster.spec.ts`, started by
 * playwright.config.ts. The PostgreSQL is the one `scripts/test-services.sh` provides. */
const testDatabaseUrl = process.env.TEST_DATABASE_URL;
if (!testDatabaseUrl) {
  throw new Error("TEST_DATABASE_URL is not set: run the end-to-end tests through scripts/test-services.sh (make test-e2e)");
}
const portA = Number(process.env.POSTURE_E2E_CLUSTER_PORT ?? 3101);

export const CLUSTER = {
  /** The database both servers share, made afresh for each run. */
  databaseUrl: testDatabaseUrl.replace(/\/[^/]*$/, "/posture_e2e_cluster"),
  serverDatabaseUrl: testDatabaseUrl,
  portA,
  portB: portA + 1,
  a: `http://127.0.0.1:${portA}`,
  b: `http://127.0.0.1:${portA + 1}`,
};
