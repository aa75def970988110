// Chromium's six-connections-per-host limit, shown with EventSource: seven streams to one origin.
//
// Usage: node seven_event_sources.mjs <server base url>...
//
// Run by server/tests/browser.rs, with a plain http:// server (HTTP/1.1) and an https:// one
// (HTTP/2 by ALPN). For each base URL the script opens a same-origin document of that server
// (`/stats`, which runs no script of its own, so the page's connections are only ours), reads the
// protocol the document came over (Navigation Timing's nextHopProtocol: "http/1.1" or "h2"), then
// opens seven `new EventSource('/sse')` and listens for LISTEN_MS. Over HTTP/1.1 every stream
// holds a connection of its own for as long as it lives, so the browser opens six and queues the
// seventh until one of them ends: it never opens. Over HTTP/2 all seven are streams multiplexed
// on one connection, and all of them flow. The seventh is closed first, so that closing the
// others cannot free a connection for it (the Rust test counts what reached each server).
//
// Chromium must accept the self-signed certificate: it runs with --ignore-certificate-errors.
// The last line on stdout is one JSON object, {"ok": bool, "targets": {<base url>: {"protocol",
// "sources": [{"opened", "messages"}, ...]}}}; the Rust test makes the assertions. Exit code 0
// when the script itself ran; progress goes to stderr.
import { chromium } from "playwright-core";

const targets = process.argv.slice(2);
if (targets.length === 0) {
  console.error("usage: node seven_event_sources.mjs <server base url>...");
  process.exit(2);
}
const CHROMIUM = process.env.RTLAB_CHROMIUM || "/usr/bin/chromium";
/** How many EventSources to open: one more than Chromium's per-host limit for HTTP/1.1. */
const SOURCES = 7;
/** How long the streams stay open to collect events (the feed ticks at 20 events/s). */
const LISTEN_MS = 3000;

const result = { ok: false, targets: {}, errors: [] };
const log = (msg) => console.error(`[seven_event_sources] ${msg}`);

/** Runs inside the page: SOURCES EventSources to this origin's /sse, watched for listenMs. */
async function sevenStreams([count, listenMs]) {
  const sources = [];
  const report = [];
  for (let i = 0; i < count; i++) {
    const r = { opened: false, messages: 0, errors: 0 };
    const src = new EventSource("/sse");
    src.onopen = () => { r.opened = true; };
    src.onmessage = () => { r.messages++; };
    src.onerror = () => { r.errors++; };
    sources.push(src);
    report.push(r);
  }
  await new Promise((done) => setTimeout(done, listenMs));
  // The last one first: a queued stream must not get a connection freed by the others' close.
  for (const src of sources.slice().reverse()) src.close();
  const nav = performance.getEntriesByType("navigation")[0];
  return { protocol: nav ? nav.nextHopProtocol : null, sources: report };
}

let browser;
try {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--ignore-certificate-errors"],
    timeout: 30000,
  });
  for (const base of targets) {
    // A fresh context per server: no connection or cache carried from one to the other.
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    page.on("pageerror", (e) => result.errors.push(`pageerror: ${e.message}`));
    log(`opening ${base}/stats`);
    await page.goto(base + "/stats", { waitUntil: "load" });
    result.targets[base] = await page.evaluate(sevenStreams, [SOURCES, LISTEN_MS]);
    log(`${base}: ${JSON.stringify(result.targets[base])}`);
    await context.close();
  }
  result.ok = result.errors.length === 0;
} catch (e) {
  result.errors.push(String(e && e.stack ? e.stack.split("\n").slice(0, 3).join(" | ") : e));
} finally {
  if (browser) await browser.close().catch(() => {});
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
