// The playground in headless Chromium: `gradus serve` on a free port, driven with
// Playwright. Set GRADUS_BIN to the binary (default: the release build) and
// SCREENSHOTS=DIR to write the README's screenshots there.
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = process.env.GRADUS_BIN || path.resolve(here, "../../../../target/release/gradus");
const shots = process.env.SCREENSHOTS;

let server;
let base;
let browser;
let profile;
let errors = [];

before(async () => {
  // A generous time budget: these tests check behaviour, not speed.
  server = spawn(bin, ["serve", "--port", "0", "--time-limit", "300"], { stdio: ["ignore", "pipe", "inherit"] });
  base = await new Promise((resolve, reject) => {
    let out = "";
    server.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/^gradus playground: (http:\/\/\S+)\n/);
      if (m) resolve(m[1]);
    });
    server.on("exit", (code) => reject(new Error(`gradus serve exited with ${code}`)));
  });
  profile = fs.mkdtempSync(path.join(os.tmpdir(), "gradus-chromium-"));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 800 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.kill();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
});

afterEach(() => {
  const seen = errors;
  errors = [];
  assert.deepEqual(seen, [], "no console errors");
});

async function open(url, viewport) {
  const page = await browser.newPage();
  if (viewport) await page.setViewportSize(viewport);
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url || base);
  await settled(page, 0);
  return page;
}

// Waits until the runs of the last change are drawn (and at least `after` rounds ran).
async function settled(page, after) {
  await page.waitForFunction((n) => Number(document.body.dataset.runs || 0) > n && !document.body.dataset.busy,
    after, { timeout: 120000 });
  return Number(await page.evaluate(() => document.body.dataset.runs));
}

const hashParams = (page) => new URLSearchParams(new URL(page.url()).hash.slice(1));
const rounds = (page) => page.evaluate(() => Number(document.body.dataset.runs || 0));
const mapPixels = (page) => page.evaluate(() => document.getElementById("map").toDataURL());
const finalLosses = (page) => page.$$eval("#readout tbody tr td.final", (tds) => tds.map((t) => t.textContent));
const readout = (page) => page.$eval("#readout tbody", (b) => b.innerText);

async function choosePreset(page, id) {
  const n = await rounds(page);
  await page.selectOption("#preset", id);
  await settled(page, n);
}

test("the page loads with no console errors and draws the default race", async () => {
  const page = await open();
  assert.match(await page.textContent("#status"), /runs? in \d+ ms/);
  const rows = await finalLosses(page);
  assert.equal(rows.length, await page.locator(".run").count());
  assert.ok(rows.every((r) => r !== "" && r !== "–"), rows.join(" "));
  if (shots) await page.screenshot({ path: path.join(shots, "playground-beale.png") });
  await page.close();
});

test("moving an lr slider (with the keyboard) changes the trajectory and the final loss", async () => {
  const page = await open();
  const pixels = await mapPixels(page);
  const losses = await finalLosses(page);
  const slider = page.locator(".run").first().locator('input[type="range"][data-param="lr"]');
  const n = await rounds(page);
  await slider.focus();
  for (let k = 0; k < 40; k++) await page.keyboard.press("ArrowRight");
  await settled(page, n);
  const spec = await page.locator(".run").first().locator(".spec").inputValue();
  assert.notEqual(spec, "sgd(lr=0.01)", "the spec follows the slider");
  assert.equal(hashParams(page).getAll("o")[0], spec, "the URL holds the new spec");
  assert.notEqual(await mapPixels(page), pixels, "the trajectory was redrawn");
  const after = await finalLosses(page);
  assert.notEqual(after[0], losses[0], "run 1's final loss changed");
  assert.deepEqual(after.slice(1), losses.slice(1), "the other runs did not");
  await page.close();
});

test("an optimizer can be added and removed", async () => {
  const page = await open();
  const count = await page.locator(".run").count();
  let n = await rounds(page);
  await page.click("#add-run");
  n = await settled(page, n);
  assert.equal(await page.locator(".run").count(), count + 1);
  assert.equal((await finalLosses(page)).length, count + 1);
  assert.equal(new URL(page.url()).hash.split("&o=").length - 1, count + 1);
  await page.locator(".run").nth(1).locator(".remove").click();
  await settled(page, n);
  assert.equal(await page.locator(".run").count(), count);
  assert.equal((await finalLosses(page)).length, count);
  await page.close();
});

test("every preset opens and runs without an error", async () => {
  const page = await open();
  const ids = await page.$$eval("#preset option", (os) => os.map((o) => o.value).filter(Boolean));
  assert.ok(ids.length >= 14, `${ids.length} presets`);
  for (const id of ids) {
    await choosePreset(page, id);
    const status = await page.textContent("#status");
    assert.match(status, /runs? in \d+ ms/, `${id}: ${status}`);
    const losses = await finalLosses(page);
    const cards = await page.locator(".run").count();
    assert.equal(losses.length, cards, id);
    assert.ok(losses.every((l) => l !== ""), `${id}: ${losses}`);
    assert.match(await page.inputValue("#command"), /^gradus compare --problem /);
    if (shots && ["digits", "newton", "noisy"].includes(id)) {
      await page.screenshot({ path: path.join(shots, `playground-${id}.png`), fullPage: id === "digits" });
    }
  }
  await page.close();
});

test("a diverging run is marked, and the loss scale survives it", async () => {
  const page = await open();
  await choosePreset(page, "parabola");
  const text = await readout(page);
  assert.match(text, /sgd\(lr=1\.05\)/);
  const notes = await page.$$eval("#readout tbody tr td.note", (tds) => tds.map((t) => t.textContent));
  // lr 1.05 on x² grows by a factor 1.1 per step but stays finite in 10 steps; the run
  // with lr 100 below overflows.
  assert.equal(notes.filter((t) => t.startsWith("diverged")).length, 0, notes.join("|"));
  const spec = page.locator(".run").nth(1).locator(".spec");
  const n = await rounds(page);
  await spec.fill("sgd(lr=1e200)");
  await spec.press("Enter");
  await spec.blur();
  await settled(page, n);
  const after = await page.$$eval("#readout tbody tr td.note", (tds) => tds.map((t) => t.textContent));
  assert.ok(after[1].startsWith("diverged"), after.join("|"));
  await page.close();
});

test("a link reproduces the view", async () => {
  const page = await open();
  await choosePreset(page, "noisy");
  const slider = page.locator(".run").nth(2).locator('input[type="range"][data-param="lr"]');
  const n = await rounds(page);
  await slider.focus();
  await page.keyboard.press("ArrowLeft");
  await page.keyboard.press("ArrowLeft");
  await settled(page, n);
  const url = page.url();
  const pixels = await mapPixels(page);
  const table = await readout(page);
  const command = await page.inputValue("#command");
  const again = await open(url);
  assert.equal(await readout(again), table);
  assert.equal(await again.inputValue("#command"), command);
  assert.equal(await mapPixels(again), pixels);
  assert.equal(again.url(), url);
  await again.close();
  await page.close();
});

test("clicking the map sets the start point", async () => {
  const page = await open();
  const before = await page.inputValue("#start");
  const box = await page.locator("#map").boundingBox();
  const n = await rounds(page);
  await page.mouse.click(box.x + box.width * 0.3, box.y + box.height * 0.7);
  await settled(page, n);
  const start = await page.inputValue("#start");
  assert.notEqual(start, before);
  const [x, y] = start.split(",").map(Number);
  assert.ok(x < 0 && y < 0, start);
  assert.equal(hashParams(page).get("start"), start);
  await page.close();
});

test("the figure exports as PNG and the runs as CSV", async () => {
  const page = await open();
  const [png] = await Promise.all([page.waitForEvent("download"), page.click("#export-png")]);
  assert.match(png.suggestedFilename(), /\.png$/);
  const bytes = fs.readFileSync(await png.path());
  assert.deepEqual([...bytes.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  const [csv] = await Promise.all([page.waitForEvent("download"), page.click("#export-csv")]);
  const lines = fs.readFileSync(await csv.path(), "utf8").trim().split("\n");
  assert.equal(lines[0], "run,optimizer,schedule,step,loss,lr,p0,p1");
  const runs = await page.locator(".run").count();
  assert.equal(lines.length, 1 + runs * 401, "every step of every run");
  await page.close();
});

test("a data problem streams its runs with progress, loss and accuracy curves", async () => {
  const page = await open();
  const n = await rounds(page);
  await page.selectOption("#problem", "digits");
  await settled(page, n);
  assert.equal(await page.isHidden("#map"), true);
  assert.equal(await page.isVisible("#acc-figure"), true);
  assert.equal(await page.textContent("#progress-text"), "done");
  const notes = await page.$$eval("#readout tbody tr td.note", (tds) => tds.map((t) => t.textContent));
  assert.ok(notes.every((t) => /^test accuracy \d+\.\d %$/.test(t)), notes.join("|"));
  await page.close();
});

test("the page fits a phone-sized screen", async () => {
  const page = await open(base, { width: 390, height: 844 });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `the page is ${width}px wide`);
  if (shots) await page.screenshot({ path: path.join(shots, "playground-phone.png") });
  await page.close();
});
