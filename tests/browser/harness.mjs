// What the browser tests (journey.test.mjs, admin.test.mjs) share: the TAP-like reporting (the
// scenario runner and its counters, assert, assertEq, until), the common arguments, the
// prerequisites every one of them needs, Chromium's launch, screenshots, and the end of the run
// (summary line `N passed, M failed`, the whole-run deadline, the exit code).
//
// A test calls `run(main, { waitMs, deadlineMs })` at its bottom; `main` reports through
// `scenario` and `fail`, and checks its prerequisites with `prerequisites` (a missing one is a
// failure, never a skip).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '../..');

// ---- arguments --------------------------------------------------------------------------------
// The keys every test takes (--anteroom --out --chromium, and the flag --keep), plus `extra`: a
// test's own keys with their defaults (e.g. { nginx: process.env.NGINX || '' } for --nginx).
export function parseArgs(argv, extra = {}) {
  const a = {
    anteroom: process.env.ANTEROOM_BINARY || path.join(ROOT, 'build/anteroom'),
    out: path.join(ROOT, 'build/tests/browser-output'),
    chromium: process.env.CHROMIUM || '/usr/bin/chromium',
    ...extra,
    keep: false,
  };
  const keys = ['--anteroom', '--out', '--chromium', ...Object.keys(extra).map((k) => `--${k}`)];
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--keep') a.keep = true;
    else if (keys.includes(k) && i + 1 < argv.length) a[k.slice(2)] = argv[++i];
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

// ---- reporting --------------------------------------------------------------------------------
let passed = 0, failed = 0, broken = false;
let diagnose = null;  // a test's hook: prints its servers' view after a failed scenario
let waitMs = 15000;   // until()'s default limit: the test's WAIT_MS, set by run()
export const screenshots = [];
export const log = (...m) => console.log(...m);

// An error (or anything thrown) as the indented lines under a `not ok` line.
export const indent = (e) => String(e && e.stack || e).split('\n').join('\n  ');

// Sets the hook that a failed scenario calls (once the servers run) to print diagnostics.
export function setDiagnose(fn) { diagnose = fn; }

export async function scenario(name, fn) {
  const n = passed + failed + 1;
  if (broken) { failed++; log(`not ok ${n} - ${name} # not run: an earlier scenario failed`); return; }
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    log(`ok ${n} - ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed++; broken = true;
    log(`not ok ${n} - ${name}\n  ${indent(e)}`);
    if (diagnose) await diagnose().catch((d) => log(`# (diagnostics failed: ${d.message})`));
  }
}

// A failure found outside a scenario: `not ok N - name` with `detail` (already indented) below.
// `stop`: the scenarios after it are not run.
export function fail(name, detail, { stop = false } = {}) {
  failed++;
  if (stop) broken = true;
  log(`not ok ${passed + failed} - ${name}\n  ${detail}`);
}

export function assert(cond, msg) { if (!cond) throw new Error(`assertion failed: ${msg}`); }
export function assertEq(got, want, msg) {
  if (JSON.stringify(got) !== JSON.stringify(want))
    throw new Error(`assertion failed: ${msg}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

// Polls `fn` until it returns a truthy value; throws with `what` after `ms`. An error thrown by
// `fn` counts as "not yet", unless it is marked `fatal`.
export async function until(what, fn, ms = waitMs) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch (e) { if (e.fatal) throw e; last = e; }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---- prerequisites and the browser ------------------------------------------------------------
// Checks the anteroom binary, chromium, `more` (a test's own missing ones, as messages) and
// playwright-core. Returns playwright's `chromium`, or null after reporting them as failure 1.
export async function prerequisites(args, more = []) {
  const missing = [];
  if (!fs.existsSync(args.anteroom)) missing.push(`anteroom binary (${args.anteroom}; build it first)`);
  if (!fs.existsSync(args.chromium)) missing.push(`chromium (${args.chromium}; Debian package chromium)`);
  missing.push(...more);
  let chromium;
  try { ({ chromium } = await import('playwright-core')); } catch (e) {
    missing.push(`playwright-core (run: npm ci --prefix tests/browser): ${e.message.split('\n')[0]}`);
  }
  if (missing.length) {
    log(`not ok 1 - prerequisites\n  missing: ${missing.join('\n  missing: ')}\n  (./dev test installs them)`);
    failed = 1;
    return null;
  }
  return chromium;
}

// Headless Chromium (the system's, at args.chromium), quiet: no sandbox, GPU, proxy or calls home.
export function launch(chromium, args) {
  return chromium.launch({
    executablePath: args.chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-quic', '--disable-sync', '--no-proxy-server'],
  });
}

// Saves a full-page screenshot of `page` as `file` in `out`; its path and `what` are printed at the end.
export async function shot(out, page, file, what) {
  const p = path.join(out, file);
  await page.screenshot({ path: p, fullPage: true, animations: 'disabled' });
  screenshots.push([p, what]);
}

export function logScreenshots() {
  for (const [p, what] of screenshots) log(`# screenshot: ${p} — ${what}`);
}

// ---- the run ----------------------------------------------------------------------------------
// Runs `main` within `deadlineMs`, then prints the time taken and `N passed, M failed` and exits:
// 0 only if something passed and nothing failed. `waitMs` is until()'s default limit.
export async function run(main, { waitMs: wait, deadlineMs }) {
  waitMs = wait;
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { log(`interrupted by ${sig}`); process.exit(1); });
  const t0 = Date.now();
  const deadline = setTimeout(() => {
    log(`not ok - the whole run took longer than ${deadlineMs / 1000} s`);
    log(`${passed} passed, ${failed + 1} failed`);
    process.exit(1);
  }, deadlineMs);
  try { await main(); } catch (e) { failed++; log(`not ok - ${e.stack || e}`); }
  clearTimeout(deadline);
  log(`# took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  log(`${passed} passed, ${failed} failed`);
  process.exit(failed || !passed ? 1 : 0);
}
