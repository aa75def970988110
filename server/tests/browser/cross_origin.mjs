// Cross-site WebSocket hijacking, tried for real: a page from another origin attacks rtlab servers.
//
// Usage: node cross_origin.mjs <page url> <server base url>...
//
// Run by server/tests/browser.rs. The page at <page url> is served by the test from another port,
// so it is another origin than every server. From inside that page, for each server, the script
// does what any web site a user visits could do:
//   1. new WebSocket('ws://…/ws'): does it open, and does the feed arrive? (sends one message too)
//   2. new EventSource('…/sse') and fetch('…/poll/short?after=0'): can the page read the feed?
//   3. fetch('…/publish', {method: 'POST', body: 'x', mode: 'no-cors'}): a "simple" request, sent
//      without a preflight; the page never sees the answer, so only the server can tell whether
//      it landed (the Rust test reads its /stats).
// The last line on stdout is one JSON object, {"ok": bool, "targets": {<base url>: {...}}}; the
// Rust test makes the assertions (a server without the origin check must let all of it through,
// one with it none). Exit code 0 when the script itself ran; progress goes to stderr.
import { chromium } from "playwright-core";

const [pageUrl, ...targets] = process.argv.slice(2);
if (!pageUrl || targets.length === 0) {
  console.error("usage: node cross_origin.mjs <page url> <server base url>...");
  process.exit(2);
}
const CHROMIUM = process.env.RTLAB_CHROMIUM || "/usr/bin/chromium";
/** How long each connection attempt may stay open to collect events. */
const LISTEN_MS = 1500;

const result = { ok: false, page: pageUrl, targets: {}, errors: [] };
const log = (msg) => console.error(`[cross_origin] ${msg}`);

/** Runs inside the page: every attack on one server, each bounded in time. */
async function attack([base, listenMs]) {
  const within = (ms, fn) => new Promise((done) => {
    const out = {};
    const timer = setTimeout(() => done(out), ms + 3000);
    fn(out, (value) => { clearTimeout(timer); done(value); });
  });

  const ws = await within(listenMs, (r, done) => {
    Object.assign(r, { opened: false, messages: 0, closeCode: null, error: false });
    const sock = new WebSocket(base.replace(/^http/, "ws") + "/ws");
    sock.onopen = () => { r.opened = true; sock.send("hijacked over WebSocket"); };
    sock.onmessage = () => { r.messages++; };
    sock.onerror = () => { r.error = true; };
    sock.onclose = (e) => { r.closeCode = e.code; done(r); };
    setTimeout(() => sock.close(), listenMs);
  });

  const sse = await within(listenMs, (r, done) => {
    Object.assign(r, { opened: false, messages: 0, error: false });
    const src = new EventSource(base + "/sse");
    src.onopen = () => { r.opened = true; };
    src.onmessage = () => { r.messages++; };
    // A refused EventSource fails for good (readyState CLOSED); stop either way.
    src.onerror = () => { r.error = true; if (src.readyState === EventSource.CLOSED) { done(r); } };
    setTimeout(() => { src.close(); done(r); }, listenMs);
  });

  const poll = {};
  try {
    const res = await fetch(base + "/poll/short?after=0", { cache: "no-store" });
    poll.readable = true;
    poll.status = res.status;
    poll.events = (await res.json()).length;
  } catch (e) {
    poll.readable = false; // the browser hides the answer: no CORS permission for this page
    poll.error = String(e);
  }

  const publish = {};
  try {
    const res = await fetch(base + "/publish", { method: "POST", body: "x", mode: "no-cors" });
    publish.resolved = true;
    publish.type = res.type; // "opaque": the page cannot see whether it worked
  } catch (e) {
    publish.resolved = false;
    publish.error = String(e);
  }
  return { ws, sse, poll, publish };
}

let browser;
try {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
    timeout: 30000,
  });
  const page = await browser.newPage();
  page.on("pageerror", (e) => result.errors.push(`pageerror: ${e.message}`));
  log(`opening ${pageUrl}`);
  await page.goto(pageUrl, { waitUntil: "load" });
  result.pageOrigin = await page.evaluate(() => location.origin);
  for (const base of targets) {
    log(`attacking ${base} from ${result.pageOrigin}`);
    result.targets[base] = await page.evaluate(attack, [base, LISTEN_MS]);
    log(`${base}: ${JSON.stringify(result.targets[base])}`);
  }
  result.ok = result.errors.length === 0;
} catch (e) {
  result.errors.push(String(e && e.stack ? e.stack.split("\n").slice(0, 3).join(" | ") : e));
} finally {
  if (browser) await browser.close().catch(() => {});
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
