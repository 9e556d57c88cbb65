// Measures the first page of a running Posture server in Debian's Chromium and prints figures:
// bytes on the wire (compressed, headers included) per kind of resource, first contentful
// paint, time until hydrated (interactive), and the bytes of a changed and an unchanged poll.
// Usage: node measure.mjs http://127.0.0.1:3000
import { chromium } from "@playwright/test";

const base = process.argv[2] ?? "http://127.0.0.1:3000";
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

async function firstLoad() {
  const context = await browser.newContext();
  // Signed in as the demo admin `posture seed` creates.
  await context.request.post(base + "/api/login", {
    form: { email: "admin@posture.local", password: "posture-demo", next: "/" },
  });
  const page = await context.newPage();
  await page.addInitScript(() => {
    new MutationObserver((_, observer) => {
      if (document.documentElement.dataset.hydrated === "true") {
        window.__hydratedAt = performance.now();
        observer.disconnect();
      }
    }).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-hydrated"] });
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  const byRequest = new Map();
  cdp.on("Network.responseReceived", (e) => byRequest.set(e.requestId, { url: e.response.url, encoding: e.response.headers["content-encoding"] ?? "identity" }));
  const sizes = [];
  cdp.on("Network.loadingFinished", (e) => sizes.push({ ...byRequest.get(e.requestId), bytes: e.encodedDataLength }));
  await page.goto(base + "/");
  await page.waitForFunction(() => window.__hydratedAt !== undefined, null, { timeout: 30_000 });
  const timing = await page.evaluate(() => ({
    fcp: performance.getEntriesByName("first-contentful-paint")[0]?.startTime,
    hydrated: window.__hydratedAt,
  }));
  await context.close();
  return { sizes, timing };
}

async function pollBytes() {
  const context = await browser.newContext();
  // Signed in as the demo admin `posture seed` creates.
  await context.request.post(base + "/api/login", {
    form: { email: "admin@posture.local", password: "posture-demo", next: "/" },
  });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  const polls = [];
  const status = new Map();
  cdp.on("Network.responseReceived", (e) => status.set(e.requestId, e.response.status));
  cdp.on("Network.loadingFinished", (e) => polls.push({ status: status.get(e.requestId), bytes: e.encodedDataLength }));
  await page.goto(base + "/health");
  await page.evaluate(async () => {
    await (await fetch("/api/get_overview")).text();
    await (await fetch("/api/get_overview")).text();
  });
  await page.waitForTimeout(200);
  await context.close();
  return polls.slice(-2);
}

const kind = (url) => url.endsWith(".wasm") ? "wasm" : url.endsWith(".js") ? "js" : url.endsWith(".css") ? "css" : url.includes("/api/") ? "api" : "html/other";
const runs = [];
for (let i = 0; i < 5; i++) runs.push(await firstLoad());
const totals = {};
for (const s of runs[0].sizes) totals[kind(s.url)] = (totals[kind(s.url)] ?? 0) + s.bytes;
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log("first page transfer (bytes on the wire, headers included):");
for (const s of runs[0].sizes) console.log(`  ${String(s.bytes).padStart(8)}  ${s.encoding.padEnd(8)} ${new URL(s.url).pathname}`);
console.log(`  total ${Object.values(totals).reduce((a, b) => a + b, 0)} bytes`, totals);
console.log(`first contentful paint, median of 5: ${median(runs.map((r) => r.timing.fcp)).toFixed(0)} ms`);
console.log(`hydrated (interactive), median of 5: ${median(runs.map((r) => r.timing.hydrated)).toFixed(0)} ms`);
const [changed, unchanged] = await pollBytes();
console.log(`stats poll, changed (HTTP ${changed.status}): ${changed.bytes} bytes; unchanged (HTTP ${unchanged.status}): ${unchanged.bytes} bytes`);
await browser.close();
