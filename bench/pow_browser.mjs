#!/usr/bin/env node
// The browser's cost of the proof of work: an embedded anteroom (MemoryStore) with a queue that
// asks `--bits` bits (not adaptive), and the waiting page opened `--runs` times in headless
// Chromium, each time in a fresh browser context (no cache, no storage: the worker script is
// fetched and compiled again, as for a first visit). Each run waits for the page to solve and
// join (state waiting); the page's own measure is read from <body data-pow-ms> (from the
// refusal that carried the challenge to the solution, worker start included) and
// data-pow-hashes / data-pow-work-ms (the worker's tries and its time solving).
//
// Prints one line of JSON on stdout:
//   {"bits":18,"runs":15,"solves":[ms,...],"median_ms":..,"p90_ms":..,"hashes_per_s":..,
//    "hashes":[...],"load":"<uptime before>"}
// hashes_per_s = all tries / all worker solving time (the device's SHA-256 speed in the page).
// Progress goes to stderr. Exits non-zero if any run fails (the page never joined, a JavaScript
// error, a join that was not the proof's).
//
// Usage: node bench/pow_browser.mjs [--anteroom build/anteroom] [--bits 18] [--runs 15]
//        [--chromium /usr/bin/chromium]
// Needs tests/browser/node_modules (playwright-core; `npm ci --prefix tests/browser`).
import { spawn, execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const ADMIN = 'bench-pow-admin';

const args = { anteroom: path.join(ROOT, 'build/anteroom'), bits: 18, runs: 15, chromium: '/usr/bin/chromium' };
for (let i = 2; i < process.argv.length; i++) {
  const k = process.argv[i].replace(/^--/, '');
  if (!(k in args) || i + 1 >= process.argv.length) { console.error(`unknown argument ${process.argv[i]}`); process.exit(2); }
  args[k] = typeof args[k] === 'number' ? Number(process.argv[++i]) : process.argv[++i];
}
if (!(args.bits >= 0 && args.bits <= 32) || !(args.runs >= 1)) { console.error('--bits 0..32, --runs >= 1'); process.exit(2); }
const err = (...m) => console.error('[pow_browser]', ...m);

const { chromium } = await import(pathToFileURL(path.join(ROOT, 'tests/browser/node_modules/playwright-core/index.mjs')).href);

// The server: embedded, on a free port it reports; per-IP limits off (every run is one address).
const server = spawn(args.anteroom, ['--listen', '127.0.0.1:0', '--admin-token', ADMIN,
  '--token-secret', 'bench-pow-secret-0123456789abcdef', '--join-rate-per-ip', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
const stop = () => { try { server.kill('SIGTERM'); } catch {} };
process.on('exit', stop);
const port = await new Promise((resolve, reject) => {
  let buf = '';
  const t = setTimeout(() => reject(new Error(`anteroom did not start:\n${buf}`)), 15000);
  const on = (d) => {
    buf += d;
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(buf);
    if (m) { clearTimeout(t); resolve(Number(m[1])); }
  };
  server.stdout.on('data', on);
  server.stderr.on('data', on);
  server.on('exit', (c) => reject(new Error(`anteroom exited (${c}):\n${buf}`)));
});
const site = `http://127.0.0.1:${port}`;
const Q = 'powbench';
const put = await fetch(`${site}/v1/queues/${Q}`, { method: 'PUT', headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
  body: JSON.stringify({ max_active: 0, pow: { bits: args.bits, adaptive: false } }) });
if (!put.ok) { err(`PUT queue: ${put.status} ${await put.text()}`); process.exit(1); }

const load = execFileSync('uptime').toString().trim();
const browser = await chromium.launch({ executablePath: args.chromium, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
const solves = [], hashes = [];
let workMs = 0, failed = 0;
for (let i = 0; i < args.runs; i++) {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(`${site}/q/${Q}`);
    // A solve at 32 bits takes hours: wait as long as 2^bits tries at 100k/s would take, 4 times.
    const ms = Math.max(30000, 4 * 1000 * 2 ** args.bits / 1e5);
    await page.waitForSelector('body[data-state="waiting"] #position[data-value]', { timeout: ms });
    const a = await page.evaluate(() => [document.body.dataset.powMs, document.body.dataset.powHashes, document.body.dataset.powWorkMs, document.body.dataset.powBits]);
    if (args.bits > 0 && (a[0] === undefined || Number(a[3]) !== args.bits)) throw new Error(`joined without a solve at ${args.bits} bits: ${JSON.stringify(a)}`);
    if (errors.length) throw new Error(`JavaScript errors: ${errors.join('; ')}`);
    solves.push(Number(a[0] || 0)); hashes.push(Number(a[1] || 0)); workMs += Number(a[2] || 0);
    err(`run ${i + 1}/${args.runs}: ${a[0]} ms, ${a[1]} hashes`);
  } catch (e) {
    failed++;
    err(`run ${i + 1}/${args.runs} failed: ${e.message.split('\n')[0]}`);
  }
  await ctx.close();
}
await browser.close();
stop();

const sorted = [...solves].sort((a, b) => a - b);
const pct = (p) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : null;
const median = sorted.length ? (sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2) : null;
const total = hashes.reduce((a, b) => a + b, 0);
console.log(JSON.stringify({ bits: args.bits, runs: args.runs, solves, median_ms: median, p90_ms: pct(0.9),
  hashes_per_s: workMs > 0 ? Math.round(total / (workMs / 1000)) : null, hashes, failed, load }));
process.exit(failed ? 1 : 0);
