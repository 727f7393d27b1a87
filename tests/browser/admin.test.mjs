#!/usr/bin/env node
// The operator's dashboard (/admin, web/admin.*) in a real browser: Chromium (the Debian
// package, driven by playwright-core) → one embedded anteroom (`--dashboard-sample-ms 1000`).
//
// Scenarios (each one asserted; every wait is for a page state, a response or a figure, with a
// deadline; no sleeps):
//   1. a wrong token is refused: "wrong token", still on the form;
//   2. sign in; the overview shows the two queues, and its figures equal the API's;
//   3. a queue's charts move while this test joins visitors and the server admits them: two
//      screenshots some seconds apart, the plotted points and the current values differ;
//   4. the rate changed on the page: the admission rate follows (the overview's admitted_per_s);
//   5. pause: admissions stop (active stays, admitted_total does not grow), and the page's
//      waiting/active equal the API's;
//   6. the operator's message, set on the page, is what GET /v1/queues/{q} shows;
//   7. invite codes minted with the page's form and one revoked: the API agrees;
//   8. close (with the confirm step): the queue is closed, the page says so;
//   9. the token is in no URL: not in any request the browser made, not in location.href after
//      any navigation, not in the page's performance entries, not in storage or cookies; a
//      reload asks for the token again;
//  10. signed in again, the admin stream cut by a restart of the server (same port) reconnects;
//  11. no script error or policy refusal on the page; the API refused only what it should.
// Screenshots (admin-overview.png, admin-queue-1.png, admin-queue-2.png) go to --out.
//
// Usage: node admin.test.mjs [--anteroom PATH] [--out DIR] [--chromium PATH] [--keep]
// Exits 0 only if every scenario passed; the last line is `N passed, M failed`. Missing
// prerequisites (chromium, node_modules, the anteroom binary) are failures.
// The process helpers are journey.test.mjs's, trimmed to one server and no nginx.
// Reporting, arguments, prerequisites, Chromium's launch and the end of the run: harness.mjs.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assert, assertEq, fail, indent, launch, log, logScreenshots, parseArgs, prerequisites, run, scenario, shot as save, until }
  from './harness.mjs';

const ADMIN = 'admin-test-token-7f3a9c1e5b';
const SECRET = 'admin-test-secret-0123456789abcdef';
const WAIT_MS = 20000;       // longest wait for any single condition
const DEADLINE_MS = 200000;  // the whole run, however it goes
const BIG = 'concert';       // the queue the test drives
const SMALL = 'merch';       // a still queue: 3 waiting, nobody admitted

// ---- the server -------------------------------------------------------------------------------
let server = null;

// Starts anteroom; resolves with its port once it says where it listens.
function startAnteroom(bin, logFile, port = 0) {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(logFile, 'a');
    const p = spawn(bin, ['--listen', `127.0.0.1:${port}`, '--admin-token', ADMIN, '--token-secret', SECRET,
      '--tick-ms', '50', '--join-rate-per-ip', '0', '--dashboard-sample-ms', '1000'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    server = { p, exited: false, code: null, signal: null, logFile };
    let buf = '', done = false;
    const finish = (err, port) => { if (done) return; done = true; clearTimeout(timer); err ? reject(err) : resolve(port); };
    const onData = (d) => {
      fs.writeSync(out, d);
      if (done) return;
      buf += d.toString();
      const m = /anteroom listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(buf);
      if (m) finish(null, Number(m[1]));
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    p.on('error', (e) => finish(new Error(`cannot start ${bin}: ${e.message}`)));
    p.on('exit', (code, sig) => {
      Object.assign(server, { exited: true, code, signal: sig });
      finish(new Error(`anteroom exited at startup (code ${code}, signal ${sig}); output:\n${buf.slice(-2000)}`));
    });
    const timer = setTimeout(() => finish(new Error(`anteroom did not get ready in ${WAIT_MS} ms:\n${buf.slice(-2000)}`)), WAIT_MS);
  });
}

async function stopAnteroom() {
  if (!server || server.exited) return;
  const gone = new Promise((r) => server.p.once('exit', () => r()));
  server.p.kill('SIGTERM');
  const t = setTimeout(() => { if (!server.exited) server.p.kill('SIGKILL'); }, 3000);
  await gone;
  clearTimeout(t);
}
process.on('exit', () => { if (server && !server.exited) try { server.p.kill('SIGKILL'); } catch {} });

// ---- HTTP helpers -----------------------------------------------------------------------------
let base = '';
async function http(method, url, { body, admin = false } = {}) {
  const h = { Accept: 'application/json' };
  if (admin) h.Authorization = `Bearer ${ADMIN}`;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const r = await fetch(`${base}${url}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null; try { json = text ? JSON.parse(text) : null; } catch {}
  return { status: r.status, text, json };
}
async function stats(q) {
  const r = await http('GET', `/v1/queues/${q}`, { admin: true });
  assertEq(r.status, 200, `GET /v1/queues/${q}: ${r.text}`);
  return r.json;
}
async function join(q, n) {
  for (let i = 0; i < n; i++) {
    const r = await http('POST', `/v1/queues/${q}/tickets`);
    assert(r.status === 201, `join ${q} → ${r.status} ${r.text}`);
  }
}

// ---- main -------------------------------------------------------------------------------------
async function main() {
  const args = parseArgs(process.argv);
  fs.mkdirSync(args.out, { recursive: true });
  for (const f of fs.readdirSync(args.out)) if (/^admin-.*\.(png|log)$/.test(f)) fs.rmSync(path.join(args.out, f));

  // Prerequisites: a missing one is a failure, never a skip.
  const chromium = await prerequisites(args);
  if (!chromium) return;

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'anteroom-admin-'));
  log(`# temp folder: ${tmp}`);
  let browser;
  try {
    const port = await startAnteroom(args.anteroom, path.join(tmp, 'admin-anteroom.log'));
    base = `http://127.0.0.1:${port}`;
    const put = async (q, body) => {
      const r = await http('PUT', `/v1/queues/${q}`, { admin: true, body });
      assert(r.status === 200 || r.status === 201, `PUT /v1/queues/${q} ${JSON.stringify(body)} → ${r.status} ${r.text}`);
    };
    // concert admits 2 a second into plenty of room; merch admits nobody (max_active 0).
    await put(BIG, { admit_per_s: 2, max_active: 100000, session_ttl_s: 3600, abandon_after_s: 3600 });
    await join(BIG, 150);

    browser = await launch(chromium, args);
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, reducedMotion: 'reduce' });
    const page = await ctx.newPage();
    page.setDefaultTimeout(WAIT_MS);
    const urls = [];            // every URL the browser asked for, and every address the page had
    const pageErrors = [];      // script errors and policy refusals (the page must need neither)
    page.on('request', (r) => urls.push(r.url()));
    page.on('framenavigated', (f) => { if (f === page.mainFrame()) urls.push(f.url()); });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // Chromium logs every fetch answered 4xx as a console error: those are checked below from
    // the responses themselves (only the expected refusals), not from the console.
    const refusals = [];
    page.on('response', (r) => { if (r.status() >= 400) refusals.push(`${r.status()} ${new URL(r.url()).pathname}`); });
    page.on('console', (m) => {
      if (m.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text()))
        pageErrors.push(`console: ${m.text()}`);
    });
    const hrefs = async () => urls.push(await page.evaluate(() => location.href));
    const shot = (file, what) => save(args.out, page, file, what);
    // What the page shows: the overview row's cells (rendered from the latest frame, also while
    // the queue's view is up) and a chart's current value.
    const cellOf = (q, field) => page.getAttribute(`#queues tr[data-queue="${q}"] td[data-field="${field}"]`, 'data-value');
    const chart = (metric) => page.evaluate((m) => {
      const f = document.querySelector(`#charts figure[data-metric="${m}"]`);
      return f && { n: Number(f.dataset.points), value: f.querySelector('.value').dataset.value,
        points: f.querySelector('polyline').getAttribute('points') };
    }, metric);
    const status = async (re) => until(`the page to say ${re}`, async () => {
      const s = await page.evaluate(() => { const e = document.getElementById('status'); return !e.hidden && [e.dataset.kind, e.textContent]; });
      if (s && s[0] === 'error') throw new Error(`the page says: ${s[1]}`);
      return s && re.test(s[1]) && s[1];
    });

    await scenario('a wrong token is refused: "wrong token", still on the form', async () => {
      const r = await page.goto(`${base}/admin`);
      assertEq(r.status(), 200, 'GET /admin');
      await hrefs();
      await page.fill('#token', 'not-the-token');
      await page.press('#token', 'Enter');
      await page.waitForSelector('#signin-error:visible');
      assertEq(await page.textContent('#signin-error'), 'wrong token', 'the refusal');
      assertEq(await page.getAttribute('body', 'data-view'), 'signin', 'still on the form');
      assert(await page.isHidden('#overview'), 'no overview');
      assertEq(await page.inputValue('#token'), '', 'the field is emptied');
      await hrefs();
    });

    await scenario('sign in; a queue created on the page; the overview shows both, with the API\'s figures', async () => {
      await page.fill('#token', ADMIN);
      await page.click('#signin button[type=submit]');
      await page.waitForSelector('#overview:visible');
      await page.waitForSelector(`#queues tr[data-queue="${BIG}"]`);
      await page.waitForSelector('#conn[data-state="live"]');
      await hrefs();
      // merch, created from the overview's form: admits nobody (max_active 0).
      await page.fill('#create-name', SMALL);
      await page.fill('#create-rate', '1');
      await page.fill('#create-max', '0');
      await page.click('#create-form button[type=submit]');
      await status(new RegExp(`queue ${SMALL} created`));
      await page.waitForSelector('#queue:visible');
      await hrefs();
      const m = await stats(SMALL);
      assertEq([m.config.admit_per_s, m.config.max_active], [1, 0], 'the created queue\'s config');
      await join(SMALL, 3);
      await page.click('.back a');
      await page.waitForSelector('#overview:visible');
      await page.waitForSelector(`#queues tr[data-queue="${SMALL}"]`);
      await hrefs();
      const names = await page.$$eval('#queues tbody tr', (rows) => rows.map((r) => r.dataset.queue));
      assertEq(names, [BIG, SMALL], 'the queues, sorted by name');
      // merch is still: its figures are the API's at once (as soon as a sample has them).
      await until('merch\'s figures to equal the API\'s', async () => {
        const s = (await stats(SMALL)).stats;
        return (await cellOf(SMALL, 'waiting')) === String(s.waiting) && (await cellOf(SMALL, 'active')) === String(s.active);
      });
      assertEq(await cellOf(SMALL, 'waiting'), '3', 'merch waiting');
      assertEq(await cellOf(SMALL, 'state'), 'open', 'merch state');
      assertEq(await cellOf(BIG, 'mode'), 'fifo', 'concert mode');
      const fleet = await page.$$eval('#fleet tbody tr', (rows) => rows.map((r) => [r.dataset.stale, r.textContent]));
      assertEq(fleet.length, 1, 'one process in the fleet');
      assert(/this one/.test(fleet[0][1]) && fleet[0][0] === 'false', `the fleet row: ${fleet[0][1]}`);
      await until('concert to admit someone', async () => Number(await cellOf(BIG, 'active')) > 0);
      await shot('admin-overview.png', 'the overview: two queues live, the fleet of one process');
      await hrefs();
    });

    await scenario('a queue\'s charts move while visitors join and are admitted', async () => {
      await page.click(`#queues tr[data-queue="${BIG}"] a`);
      await page.waitForSelector('#queue:visible');
      await hrefs();
      await until('history in the charts', async () => (await chart('waiting')).n >= 2);
      const metrics = ['waiting', 'active', 'admitted_per_s', 'joins_per_s', 'abandoned_per_s', 'eta_last_s', 'streams'];
      for (const m of metrics) assert(await chart(m), `a chart of ${m}`);
      const before = Object.fromEntries(await Promise.all(metrics.map(async (m) => [m, await chart(m)])));
      await shot('admin-queue-1.png', `${BIG}'s charts, ${before.waiting.n} points`);
      await join(BIG, 60);
      await until('three more points and the waiting figure to change', async () => {
        const w = await chart('waiting');
        return w.n >= before.waiting.n + 3 && w.value !== before.waiting.value;
      });
      const after = Object.fromEntries(await Promise.all(metrics.map(async (m) => [m, await chart(m)])));
      await shot('admin-queue-2.png', `${BIG}'s charts, ${after.waiting.n} points, after 60 more joins`);
      for (const m of ['waiting', 'active']) {
        assert(after[m].points !== before[m].points, `the ${m} line moved`);
        assert(after[m].value !== before[m].value, `the ${m} figure changed: ${before[m].value} → ${after[m].value}`);
      }
      assert(Number(after.active.value) > Number(before.active.value), 'more visitors active');
      assert(after.waiting.points.split(' ').length === after.waiting.n, 'one point of the line a sample');
    });

    await scenario('the rate set on the page: the admission rate follows', async () => {
      assert(Number(await cellOf(BIG, 'admitted_per_s')) < 5, `admitted_per_s at 2/s: ${await cellOf(BIG, 'admitted_per_s')}`);
      await page.fill('#f-admit_per_s', '10');
      await page.click('#save');
      await status(/rate set to 10\/s/);
      assertEq((await stats(BIG)).config.admit_per_s, 10, 'the API\'s rate');
      await until('admitted_per_s to approach 10', async () => Math.abs(Number(await cellOf(BIG, 'admitted_per_s')) - 10) <= 2);
      const c = await chart('admitted_per_s');
      assert(Number(c.value) >= 5, `the admitted/s chart follows: ${c.value}`);
    });

    await scenario('pause: admissions stop, and the page\'s figures equal the API\'s', async () => {
      await page.click('#pause');
      await status(/admissions paused/);
      assertEq(await page.textContent('#pause'), 'Resume admissions', 'the button now resumes');
      await page.waitForSelector('#q-state[data-state="paused"]');
      const s0 = (await stats(BIG)).stats;
      const t0 = Number(await page.getAttribute('#queues', 'data-t'));
      // Three more samples (frames), then nothing admitted in between.
      await until('three more samples', async () => Number(await page.getAttribute('#queues', 'data-t')) >= t0 + 3000);
      const s1 = (await stats(BIG)).stats;
      assertEq(s1.admitted_total, s0.admitted_total, 'admitted_total while paused');
      assertEq(s1.active, s0.active, 'active while paused');
      assertEq(s1.waiting, s0.waiting, 'waiting while paused');
      await until('the page\'s figures to equal the API\'s', async () =>
        (await cellOf(BIG, 'waiting')) === String(s1.waiting) && (await cellOf(BIG, 'active')) === String(s1.active) &&
        (await chart('waiting')).value === String(s1.waiting) && (await chart('active')).value === String(s1.active));
      await until('admitted_per_s to fall to 0', async () => (await cellOf(BIG, 'admitted_per_s')) === '0');
    });

    await scenario('the message set on the page is the API\'s', async () => {
      const text = 'Doors open at 10:00 — thank you for waiting';
      await page.fill('#f-message', text);
      await page.click('#save');
      await status(/message set/);
      assertEq((await stats(BIG)).config.message, text, 'GET /v1/queues/concert config.message');
      assertEq(await page.inputValue('#f-message'), text, 'the field after the reload of the config');
    });

    await scenario('invite codes minted and revoked on the page; no dead letters; no draw', async () => {
      await page.fill('#m-count', '2');
      await page.fill('#m-uses', '3');
      await page.check('#m-skip');
      await page.fill('#m-label', 'press');
      await page.click('#mint-form button[type=submit]');
      await status(/2 codes minted/);
      await until('two codes listed', async () => (await page.$$('#invites tbody tr')).length === 2);
      const list = (await http('GET', `/v1/queues/${BIG}/invites`, { admin: true })).json.invites;
      assertEq(list.map((v) => [v.uses, v.skip, v.label, v.revoked]), [[3, true, 'press', false], [3, true, 'press', false]], 'the minted codes');
      const code = list[0].code;
      await page.click(`#invites button.revoke[data-code="${code}"]`);
      await status(new RegExp(`code ${code} revoked`));
      await page.waitForSelector(`#invites tr.revoked[data-code="${code}"]`);
      const after = (await http('GET', `/v1/queues/${BIG}/invites`, { admin: true })).json.invites;
      assertEq(after.map((v) => v.revoked), [true, false], 'revoked on the API');
      assert(await page.isVisible('#dead-none'), 'no dead letters shown');
      assertEq(await page.textContent('#draw-state'), 'none', 'the draw\'s state');
    });

    await scenario('close, with a confirm step: the queue is closed', async () => {
      await page.click('#close');
      await page.waitForSelector('#close-confirm:visible');
      assertEq((await stats(BIG)).closed, false, 'not closed before the confirmation');
      await page.click('#close-yes');
      await status(/closed/);
      assertEq((await stats(BIG)).closed, true, 'GET /v1/queues/concert closed');
      await page.waitForSelector('#q-state[data-state="closed"]');
      assert(await page.isDisabled('#close'), 'nothing more to close');
      await page.click('.back a');
      await page.waitForSelector(`#queues tr[data-queue="${BIG}"][data-state="closed"]`);
      await hrefs();
      const j = await http('POST', `/v1/queues/${BIG}/tickets`);
      assertEq(j.status, 410, 'a join of the closed queue');
    });

    await scenario('the token is in no URL, no storage, no cookie; a reload asks for it again', async () => {
      await page.goBack();                    // back to the queue's view: a fragment, no reload
      await page.waitForSelector('#queue:visible');
      await hrefs();
      await page.goForward();
      await page.waitForSelector('#overview:visible');
      await hrefs();
      urls.push(...await page.evaluate(() => performance.getEntries().map((e) => e.name)));
      const seen = await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]);
      assertEq(seen, [0, 0, ''], 'localStorage, sessionStorage, cookies');
      assertEq((await ctx.cookies()).length, 0, 'cookies in the browser');
      assert(urls.length > 10, `the recorded URLs: ${urls.length}`);
      const leaks = urls.filter((u) => u.includes(ADMIN) || u.includes(encodeURIComponent(ADMIN)));
      assertEq(leaks, [], 'URLs holding the token');
      assert(urls.some((u) => u.endsWith('/v1/admin/stream')), 'the admin stream was among the requests');
      await page.reload();
      await page.waitForSelector('#signin:visible');
      assert(await page.isHidden('#overview'), 'no figures after a reload without the token');
    });
    // A restart of the server (same port; the memory store starts empty) cuts the stream.
    await scenario('the admin stream, cut by a restart, reconnects and goes on', async () => {
      // (After the reload: signed in again, as an operator would.)
      await page.fill('#token', ADMIN);
      await page.press('#token', 'Enter');
      await page.waitForSelector('#conn[data-state="live"]');
      await page.waitForSelector(`#queues tr[data-queue="${BIG}"]`);
      const t0 = Number(await page.getAttribute('#queues', 'data-t'));
      await stopAnteroom();
      assertEq([server.code, server.signal], [0, null], 'anteroom\'s exit on SIGTERM');
      await page.waitForSelector('#conn[data-state="reconnecting"]');
      await startAnteroom(args.anteroom, path.join(tmp, 'admin-anteroom.log'), port);
      await page.waitForSelector('#conn[data-state="live"]');
      await until('a frame from the new process', async () => Number(await page.getAttribute('#queues', 'data-t')) > t0 &&
        (await page.$$('#queues tbody tr')).length === 0);
      assert(await page.isVisible('#overview'), 'still signed in');
    });

    await scenario('no script error, no policy refusal, only the expected API refusals, no token in any URL', async () => {
      await hrefs();
      urls.push(...await page.evaluate(() => performance.getEntries().map((e) => e.name)));
      assertEq(urls.filter((u) => u.includes(ADMIN)), [], 'URLs holding the token');
      assertEq(pageErrors, [], 'script errors or policy refusals on the page');
      // The wrong token's refusal, and the history of merch asked for before its first sample.
      const expected = ['401 /v1/admin/overview', `404 /v1/admin/queues/${SMALL}/history`];
      assertEq(refusals.filter((r) => !expected.includes(r)), [], 'requests of the page refused');
      assert(refusals.includes(expected[0]), `the wrong token's 401 was seen: ${refusals}`);
    });

    await ctx.close();
  } catch (e) {
    fail('test setup', indent(e));
  } finally {
    if (browser) await browser.close().catch(() => {});
    await stopAnteroom();
    if (server && server.exited && server.code !== 0)
      fail('anteroom exits cleanly on SIGTERM', `exit code ${server.code}, signal ${server.signal}`);
    if (fs.existsSync(path.join(tmp, 'admin-anteroom.log'))) fs.copyFileSync(path.join(tmp, 'admin-anteroom.log'), path.join(args.out, 'admin-anteroom.log'));
    if (!args.keep) fs.rmSync(tmp, { recursive: true, force: true });
  }
  logScreenshots();
}

await run(main, { waitMs: WAIT_MS, deadlineMs: DEADLINE_MS });
