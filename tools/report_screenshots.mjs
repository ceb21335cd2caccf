// Screenshots of `gradus report` for docs/screenshots: the page served over http (a
// file:// page in headless Chromium can come out blank), every image loaded before the
// shot. Usage, from the repository root, after `gradus report --out gradus-report`:
//   node tools/report_screenshots.mjs gradus-report docs/screenshots
// Needs playwright-core (npm ci in crates/gradus-cli/tests/browser) and Chromium.
import { createRequire } from "node:module";
import http from "node:http";
import fs from "node:fs";
import path from "node:path";

const require = createRequire(new URL("../crates/gradus-cli/tests/browser/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const [dir = "gradus-report", out = "docs/screenshots"] = process.argv.slice(2);
const types = { ".html": "text/html", ".png": "image/png", ".gif": "image/gif", ".svg": "image/svg+xml" };
const server = http.createServer((req, res) => {
  const name = decodeURIComponent(new URL(req.url, "http://x").pathname).replace(/^\/+/, "") || "index.html";
  const file = path.join(dir, path.normalize(name));
  if (!file.startsWith(path.resolve(dir)) && !file.startsWith(dir)) return res.writeHead(403).end();
  fs.readFile(file, (err, body) => {
    if (err) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": types[path.extname(file)] || "application/octet-stream" }).end(body);
  });
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const base = `http://127.0.0.1:${server.address().port}/index.html`;

// [file, viewport width, height, anchor to scroll to (none: the top)]
const shots = [
  ["report-desktop-top.png", 1400, 900, null],
  ["report-desktop-zoo.png", 1400, 1000, "fig-zoo"],
  ["report-desktop-second-order.png", 1400, 1000, "fig-second_rosenbrock"],
  ["report-desktop-lr.png", 1400, 1000, "fig-lr_rosenbrock"],
  ["report-desktop-muon.png", 1400, 1000, "fig-muon_sweep"],
  ["report-desktop-muon-curves.png", 1400, 1000, "fig-muon"],
  ["report-narrow-top.png", 390, 844, null],
  ["report-narrow-saddle.png", 390, 844, "fig-saddle"],
  ["report-narrow-muon.png", 390, 844, "fig-muon"],
];

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium" });
try {
  for (const [file, width, height, anchor] of shots) {
    const page = await browser.newPage({ viewport: { width, height } });
    await page.goto(base, { waitUntil: "load" });
    // Lazy images load once scrolled to: load them all, then wait until each decoded.
    await page.evaluate(() => document.querySelectorAll("img").forEach((i) => (i.loading = "eager")));
    await page.waitForFunction(() => [...document.images].every((i) => i.complete && i.naturalWidth > 0), null, { timeout: 60000 });
    if (anchor) await page.evaluate((id) => document.getElementById(id).scrollIntoView(), anchor);
    await page.waitForTimeout(200);
    await page.screenshot({ path: path.join(out, file) });
    await page.close();
    console.log(path.join(out, file));
  }
} finally {
  await browser.close();
  server.close();
}
