// The incident list under load, in Debian's Chromium, against a running server:
// first row paint, p95 frame interval over a scripted scroll of 300 steps of 800 px (one per
// animation frame), DOM nodes in the table, JS heap + WASM memory, and whether the last row shows.
// Usage: node measure-incidents.mjs http://127.0.0.1:3000
import { chromium } from "@playwright/test";

const base = process.argv[2] ?? "http://127.0.0.1:3000";
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-precise-memory-info"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
// Signed in as the demo admin `posture seed` creates (the session cookie lands in the context).
await context.request.post(base + "/api/login", {
  form: { email: "admin@posture.local", password: "posture-demo", next: "/" },
});
const page = await context.newPage();
const cdp = await context.newCDPSession(page);
await page.goto(base + "/incidents");
await page.waitForSelector('html[data-hydrated="true"]');
const firstRow = await page.evaluate(() => performance.getEntriesByName("first-contentful-paint")[0]?.startTime);
const total = Number(await page.locator("[data-scroller]").getAttribute("data-row-count"));

const scroll = await page.evaluate(async () => {
  const el = document.querySelector("[data-scroller]");
  const frames = [];
  let maxNodes = 0;
  let last = await new Promise(requestAnimationFrame);
  for (let i = 0; i < 300; i++) {
    el.scrollTop += 800;
    const now = await new Promise(requestAnimationFrame);
    frames.push(now - last);
    last = now;
    maxNodes = Math.max(maxNodes, el.querySelectorAll("*").length);
  }
  frames.sort((a, b) => a - b);
  return { p50: frames[Math.floor(frames.length * 0.5)], p95: frames[Math.floor(frames.length * 0.95)], maxNodes };
});

const jumpStarted = Date.now();
await page.evaluate(() => { const el = document.querySelector("[data-scroller]"); el.scrollTop = el.scrollHeight; });
const lastRow = page.locator(`[data-row-index="${total - 1}"]`);
await lastRow.waitFor({ state: "visible" });
await page.waitForFunction((i) => !document.querySelector(`[data-row-index="${i}"]`).textContent.includes("loading"), total - 1);
const lastRowMs = Date.now() - jumpStarted;

await cdp.send("HeapProfiler.collectGarbage");
const { usedSize } = await cdp.send("Runtime.getHeapUsage");
const wasmBytes = await page.evaluate(async () => (await (await import("/pkg/posture.js")).default()).memory.buffer.byteLength);
const mb = (b) => (b / 1048576).toFixed(1);
console.log(`incidents: ${total} rows`);
console.log(`  first row painted (FCP, rows are in the server HTML): ${firstRow.toFixed(0)} ms`);
console.log(`  scripted scroll 300 x 800 px: frame interval p50 ${scroll.p50.toFixed(1)} ms, p95 ${scroll.p95.toFixed(1)} ms`);
console.log(`  DOM nodes in the scroller, most seen: ${scroll.maxNodes}`);
console.log(`  JS heap ${mb(usedSize)} MB + WASM memory ${mb(wasmBytes)} MB = ${mb(usedSize + wasmBytes)} MB`);
console.log(`  last row reachable: yes, data shown ${lastRowMs} ms after the jump`);
await browser.close();
