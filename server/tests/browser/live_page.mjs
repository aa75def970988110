// The live page in a real browser: Debian's Chromium, driven through playwright-core (CDP).
//
// Usage: node live_page.mjs <page url> <screenshot path>
//
// Run by server/tests/browser.rs against a real rtlab-server with a ticker; can be run by hand
// against `cargo run -p rtlab-server` too. It checks, through the data-* attributes of each
// <section data-transport="…"> panel, that:
//   1. all four panels (ws, sse, long-poll, short-poll) receive events in order, none missed;
//   2. a message typed into the publish box shows up in all four panels;
//   3. pausing SSE and resuming it loses nothing (the resumed stream starts after the last seq);
// then saves a screenshot. The last line on stdout is one JSON object, {"ok": bool, ...}, that the
// Rust test parses; progress goes to stderr. Exit code 0 only when every check passed.
import { chromium } from "playwright-core";

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node live_page.mjs <page url> <screenshot path>");
  process.exit(2);
}
const CHROMIUM = process.env.RTLAB_CHROMIUM || "/usr/bin/chromium";
const TRANSPORTS = ["ws", "sse", "long-poll", "short-poll"];
const STEP_TIMEOUT_MS = 20000;

const result = { ok: false, checks: {}, panels: {}, errors: [] };
const log = (msg) => console.error(`[live_page] ${msg}`);

/** Every panel's data-* attributes, as numbers where they are numbers. */
async function readPanels(page) {
  return page.evaluate((keys) => {
    const out = {};
    for (const k of keys) {
      const el = document.querySelector(`section[data-transport="${k}"]`);
      if (!el) { out[k] = null; continue; }
      const d = el.dataset;
      out[k] = {
        state: d.state,
        lastSeq: Number(d.lastSeq),
        received: Number(d.received),
        missed: Number(d.missed),
        dups: Number(d.dups),
        requests: Number(d.requests),
        empty: Number(d.empty),
        bytes: Number(d.bytes),
        publishedSeqs: (d.publishedSeqs || "").split(" ").filter(Boolean).map(Number),
        mine: el.querySelector('[data-field="mine"]')?.textContent ?? "",
      };
    }
    return out;
  }, TRANSPORTS);
}

let browser;
try {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // The https:// run serves a self-signed certificate made by the test.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--ignore-certificate-errors"],
    timeout: 30000,
  });
  const page = await browser.newPage({
    viewport: { width: 1440, height: 1000 },
    deviceScaleFactor: 1,
    ignoreHTTPSErrors: true,
  });
  page.on("pageerror", (e) => result.errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") result.errors.push(`console: ${m.text()}`); });
  page.setDefaultTimeout(STEP_TIMEOUT_MS);

  log(`opening ${url}`);
  await page.goto(url, { waitUntil: "load" });

  // 1. Every panel is live and has received a few events, in order.
  await page.waitForFunction((keys) => keys.every((k) => {
    const d = document.querySelector(`section[data-transport="${k}"]`)?.dataset;
    return d && d.state === "open" && Number(d.received) >= 5;
  }), TRANSPORTS);
  log("all four panels receive events");
  result.checks.all_receive = true;

  // 2. Publish a message: it must appear in all four panels.
  const text = `hello from chromium ${Date.now()}`;
  await page.fill("#publish-text", text);
  await page.click("#publish-button");
  await page.waitForFunction(() => document.getElementById("publish-status").dataset.seq);
  const seq = Number(await page.$eval("#publish-status", (e) => e.dataset.seq));
  log(`published as seq ${seq}`);
  await page.waitForFunction(([keys, seq]) => keys.every((k) => {
    const d = document.querySelector(`section[data-transport="${k}"]`).dataset;
    return (d.publishedSeqs || "").split(" ").map(Number).includes(seq);
  }), [TRANSPORTS, seq]);
  const afterPublish = await readPanels(page);
  result.checks.published_seq = seq;
  result.checks.published_in_all = TRANSPORTS.every(
    (k) => afterPublish[k].publishedSeqs.includes(seq) && afterPublish[k].mine.includes(text),
  );
  log(`message seen in all four panels: ${result.checks.published_in_all}`);

  // 3. Pause SSE, let the feed move on, resume: the gap must be replayed, nothing missed.
  await page.click("#toggle-sse");
  await page.waitForFunction(() => document.getElementById("panel-sse").dataset.state === "paused");
  const pausedAt = Number(await page.$eval("#panel-sse", (e) => e.dataset.lastSeq));
  await page.waitForFunction((s) => Number(document.getElementById("panel-ws").dataset.lastSeq) >= s + 5, pausedAt);
  const whilePaused = Number(await page.$eval("#panel-sse", (e) => e.dataset.lastSeq));
  const headAtResume = Number(await page.$eval("#panel-ws", (e) => e.dataset.lastSeq));
  log(`SSE paused at seq ${pausedAt}; feed moved to ${headAtResume}; resuming`);
  await page.click("#toggle-sse");
  await page.waitForFunction((s) => {
    const d = document.getElementById("panel-sse").dataset;
    return d.state === "open" && Number(d.lastSeq) > s;
  }, headAtResume);
  result.checks.sse_paused_at = pausedAt;
  result.checks.sse_stood_still_while_paused = whilePaused === pausedAt;
  result.checks.sse_events_while_paused = headAtResume - pausedAt;

  // Let every panel run on a little, then read the final counters.
  await page.waitForTimeout(1500);
  const final = await readPanels(page);
  result.panels = final;
  result.checks.sse_resumed_without_loss = final.sse.missed === 0 && final.sse.dups === 0 && final.sse.lastSeq > headAtResume;
  result.checks.in_order_none_missed = TRANSPORTS.every((k) => final[k].missed === 0 && final[k].dups === 0);
  result.checks.poll_bytes_counted = final["long-poll"].bytes > 0 && final["short-poll"].bytes > 0;
  log(`final: ${JSON.stringify(final)}`);

  await page.screenshot({ path: screenshot, fullPage: true });
  result.screenshot = screenshot;
  result.ok = Boolean(
    result.checks.all_receive &&
    result.checks.published_in_all &&
    result.checks.sse_stood_still_while_paused &&
    result.checks.sse_resumed_without_loss &&
    result.checks.in_order_none_missed &&
    result.errors.length === 0,
  );
} catch (e) {
  result.errors.push(String(e && e.stack ? e.stack.split("\n").slice(0, 3).join(" | ") : e));
  // A screenshot of the failure is worth having too.
  try {
    const [page] = browser ? browser.contexts().flatMap((c) => c.pages()) : [];
    if (page) {
      result.panels = await readPanels(page);
      await page.screenshot({ path: screenshot, fullPage: true });
      result.screenshot = screenshot;
    }
  } catch (_) { /* the browser itself may be gone */ }
} finally {
  if (browser) await browser.close().catch(() => {});
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
