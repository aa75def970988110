// What a real browser sends: the request heads of Chromium's fetch, EventSource and WebSocket.
//
// Usage: node server/tests/browser/request_heads.mjs
//
// The wire tracer (`rtlab-client trace`) shows the bytes of a lean Rust client; a browser adds
// User-Agent, client hints, Sec-Fetch-*, Referer and more to every request, and a poll pays them
// again on every poll. This script measures them: it listens on a loopback port with a plain TCP
// server that records each request head verbatim (and answers just enough for the page to go on),
// points Debian's Chromium at it through playwright-core, opens one fetch poll, one EventSource and
// one WebSocket, and prints every head with its size. No rtlab server is involved, so the numbers
// are the browser's alone (no cookies: a real site's cookies add to every request).
import net from "node:net";
import { chromium } from "playwright-core";

const CHROMIUM = process.env.RTLAB_CHROMIUM || "/usr/bin/chromium";
const PAGE = "<!doctype html><title>heads</title><link rel=icon href='data:,'>";
const heads = [];

const server = net.createServer((sock) => {
  let buf = Buffer.alloc(0);
  sock.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    const end = buf.indexOf("\r\n\r\n");
    if (end < 0) return;
    const head = buf.subarray(0, end + 4).toString("latin1");
    buf = buf.subarray(end + 4);
    heads.push(head);
    const path = head.split(" ")[1];
    const reply = (type, body) =>
      sock.end(`HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    if (path === "/") reply("text/html", PAGE);
    else if (path.startsWith("/poll")) reply("application/json", "[]");
    else sock.destroy(); // /sse and /ws: the head is all we wanted
  });
  sock.on("error", () => {});
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"], timeout: 30000 });
try {
  const page = await browser.newPage();
  await page.goto(origin + "/");
  await page.evaluate(() => fetch("/poll/short?after=41", { cache: "no-store" }).then((r) => r.text()));
  await page.evaluate(() => new Promise((done) => {
    const es = new EventSource("/sse");
    es.onerror = () => { es.close(); done(); };
    setTimeout(done, 3000);
  }));
  await page.evaluate(() => new Promise((done) => {
    const ws = new WebSocket(location.origin.replace("http", "ws") + "/ws");
    ws.onerror = ws.onclose = () => done();
    setTimeout(done, 3000);
  }));
} finally {
  await browser.close();
  server.close();
}

console.log(`Chromium ${browser.version()} request heads (bytes include every CRLF):\n`);
for (const head of heads) {
  console.log(`── ${Buffer.byteLength(head, "latin1")} bytes: ${head.split("\r\n")[0]}`);
  console.log(head.trimEnd().split("\r\n").map((l) => "  " + l).join("\n") + "\n");
}
