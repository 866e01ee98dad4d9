// test.js — loads report.html in a real headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core) from a file:// URL and checks that the charts rendered: every SVG chart has a
// non-zero box, one series per destination / verdict in report.json, one bar per non-empty
// (day, series), four threshold bars per year, the mismatch table rows; then saves a screenshot.
// Usage: node test.js REPORT_DIR SCREENSHOT.png
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');

function fail(msg) {
  console.error('FAIL: ' + msg);
  process.exitCode = 1;
}

async function main() {
  const [dir, shot] = process.argv.slice(2);
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'xb-chromium-'));
  // A fresh profile each run (playwright passes it as --user-data-dir).
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.XB_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1100, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  let checks = 0;
  try {
    const page = await browser.newPage();
    const requests = [];
    page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
    await page.goto('file://' + path.resolve(dir, 'report.html'), { waitUntil: 'load' });

    for (const id of ['chart-destination', 'chart-verdict']) {
      const box = await page.locator('#' + id).boundingBox();
      if (!box || box.width < 100 || box.height < 100) fail(id + ' has no size: ' + JSON.stringify(box));
      checks++;
    }
    const dests = Object.keys(report.by_destination).length;
    const verdicts = Object.keys(report.by_verdict).length;
    const ds = await page.locator('#chart-destination g.series').count();
    const vs = await page.locator('#chart-verdict g.series').count();
    if (ds !== dests) fail(`destination series ${ds}, report has ${dests}`);
    if (vs !== verdicts) fail(`verdict series ${vs}, report has ${verdicts}`);
    checks += 2;

    // One bar per (day, destination) with a count, each drawn with a real box.
    let want = 0;
    for (const d of Object.values(report.by_day)) want += Object.keys(d.destinations).length;
    const bars = page.locator('#chart-destination rect.bar');
    const n = await bars.count();
    if (n !== want) fail(`destination bars ${n}, expected ${want}`);
    for (let i = 0; i < n; i++) {
      const b = await bars.nth(i).boundingBox();
      if (!b || b.width <= 0 || b.height <= 0) fail(`bar ${i} not rendered`);
    }
    checks += 1 + n;

    // Bars of one day stack up to that day's total: the tallest day is the full plot height.
    const years = Object.keys(report.subjects);
    for (const y of years) {
      const progress = page.locator(`#thresholds-${y} rect.progress`);
      if ((await progress.count()) !== 4) fail(`year ${y}: expected 4 threshold bars`);
      const spi = await page.locator(`#thresholds-${y} rect[data-threshold="spi_scc"]`).boundingBox();
      if (report.subjects[y].spi > 0 && (!spi || spi.width <= 0)) fail('SPI bar not visible');
      checks += 2;
    }
    const rows = await page.locator('#mismatches tr.mismatch').count();
    if (rows !== report.mismatches.rows.length) fail(`mismatch rows ${rows}, expected ${report.mismatches.rows.length}`);
    checks++;
    if (requests.length) fail('page fetched external resources: ' + requests.join(', '));
    checks++;
    await page.screenshot({ path: shot, fullPage: true });
    if (fs.statSync(shot).size < 5000) fail('screenshot suspiciously small');
    checks++;
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  console.log(`report_browser: ${checks} checks, ${process.exitCode ? 'FAILED' : 'ok'}; screenshot ${shot}`);
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
