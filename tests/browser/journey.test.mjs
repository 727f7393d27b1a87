#!/usr/bin/env node
// The visitor's journey in a real browser: Chromium (the Debian package, driven by
// playwright-core) → nginx (examples/nginx, auth_request) → two anteroom processes sharing one
// queue through one redis-server → a protected static site.
//
// Everything is started here, for real, on free loopback ports under a fresh temp folder:
// redis-server, two `anteroom --redis` processes, nginx with the example config filled in.
// Scenarios (each one asserted; every wait is for a page state, a response or a metric, with a
// timeout):
//   1. opening the protected URL without a token lands on the waiting page;
//   2. the position on the page goes down as visitors ahead are admitted (and a pause shows);
//   3. on admission the browser ends up on the protected page (200 through nginx), no click;
//   4. a tampered token cookie is sent back to the waiting page;
//   5. kill -9 of the anteroom process serving the page's event stream: the page reconnects
//      through nginx to the other process and is still admitted;
//   6. the ended and closed states, and re-joining with the keyboard;
//   7. a site that keeps bouncing an admitted visitor back gets no endless redirect loop;
//   8. the on-sale: in the pre-queue a countdown to the draw, the place the moment of the draw,
//      the operator's message live, mode reject, closes_at;
//   9. before prequeue_at a countdown, then the page joins the pre-queue by itself;
//  10. mode random: the lottery instead of a position;
//  11. proof of work: the page solves the default difficulty in its worker, then joins;
//  12. proof of work refused 3 rounds in a row: the page stops and "Try again" joins;
//  13. invite codes: asked for, each refusal explained, a skip-the-line code goes first.
// A screenshot of each state is saved in the output folder; their paths are printed.
// Chromium gets a fresh profile (playwright's launch() makes a new temporary --user-data-dir
// and deletes it on close); contexts are new for each visitor.
//
// Usage: node journey.test.mjs [--anteroom PATH] [--out DIR] [--chromium PATH] [--nginx PATH]
//        [--keep]   (keep the temp folder with configs and logs)
// Exits 0 only if every scenario passed; the last line is `N passed, M failed`. Missing
// prerequisites (chromium, nginx, redis-server, node_modules, the anteroom binary) are failures.
// Reporting, arguments, prerequisites, Chromium's launch and the end of the run: harness.mjs.

import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, assert, assertEq, fail, indent, launch, log, logScreenshots, parseArgs, prerequisites, run, scenario,
  setDiagnose, shot as save, until } from './harness.mjs';

const QUEUE = 'shop';
const ADMIN = 'browser-test-admin';
const SECRET = 'browser-test-secret-0123456789abcdef';
const WAIT_MS = 15000;       // longest wait for any single condition
const DEADLINE_MS = 150000;  // the whole run, however it goes

function which(name) {
  for (const dir of (process.env.PATH || '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(dir || '.', name);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch {}
  }
  return '';
}

// ---- processes --------------------------------------------------------------------------------
const children = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// Starts a child whose output goes to `logFile`; resolves with the first match of `ready` in its
// stdout/stderr (or once it runs, if `ready` is null), rejects if it exits first or stays silent
// for WAIT_MS.
function start(name, cmd, args, logFile, ready) {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(logFile, 'a');
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const child = { name, p, exited: false, logFile, code: null, signal: null };
    children.push(child);
    let buf = '', done = false;
    const finish = (err, m) => { if (done) return; done = true; clearTimeout(timer); err ? reject(err) : resolve({ child, match: m }); };
    const onData = (d) => {
      fs.writeSync(out, d);
      if (done) return;
      buf += d.toString();
      const m = ready ? ready.exec(buf) : null;
      if (m) finish(null, m);
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    if (!ready) p.on('spawn', () => finish(null, null));
    p.on('error', (e) => finish(new Error(`${name}: cannot start ${cmd}: ${e.message}`)));
    p.on('exit', (code, sig) => {
      child.exited = true; child.code = code; child.signal = sig;
      finish(new Error(`${name} exited at startup (code ${code}, signal ${sig}); output:\n${buf.slice(-2000)}`));
    });
    const timer = setTimeout(() => finish(new Error(`${name} did not get ready in ${WAIT_MS} ms; output:\n${buf.slice(-2000)}`)), WAIT_MS);
  });
}

function exited(child) {
  return child.exited ? Promise.resolve() : new Promise((r) => child.p.once('exit', () => r()));
}

async function stopAll() {
  await Promise.all(children.filter((c) => !c.exited).map(async (c) => {
    c.p.kill('SIGTERM');
    const t = setTimeout(() => { if (!c.exited) c.p.kill('SIGKILL'); }, 3000);
    await exited(c);
    clearTimeout(t);
  }));
}
process.on('exit', () => { for (const c of children) if (!c.exited) try { c.p.kill('SIGKILL'); } catch {} });

// ---- HTTP helpers -----------------------------------------------------------------------------
async function http(method, url, { body, headers = {}, admin = false } = {}) {
  const h = { Accept: 'application/json', ...headers };
  if (admin) h.Authorization = `Bearer ${ADMIN}`;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const r = await fetch(url, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual' });
  const text = await r.text();
  let json = null; try { json = text ? JSON.parse(text) : null; } catch {}
  return { status: r.status, headers: r.headers, text, json };
}

async function metric(port, name) {
  const r = await http('GET', `http://127.0.0.1:${port}/metrics`);
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(r.text);
  if (!m) throw new Error(`metric ${name} not found on :${port}`);
  return Number(m[1]);
}

// ---- main -------------------------------------------------------------------------------------
async function main() {
  const args = parseArgs(process.argv, { nginx: process.env.NGINX || '' });
  fs.mkdirSync(args.out, { recursive: true });
  for (const f of fs.readdirSync(args.out)) if (/\.(png|log|conf)$/.test(f)) fs.rmSync(path.join(args.out, f));

  // Prerequisites: a missing one is a failure, never a skip.
  const missing = [];
  const nginxBin = args.nginx || which('nginx');
  const redisBin = which('redis-server');
  if (!nginxBin || !fs.existsSync(nginxBin)) missing.push(`nginx (${nginxBin || 'not in PATH'}; Debian package nginx-light)`);
  if (!redisBin) missing.push('redis-server (Debian package redis-server)');
  const chromium = await prerequisites(args, missing);
  if (!chromium) return;

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'anteroom-browser-'));
  for (const d of ['conf', 'logs', 'temp', 'redis', 'site/shop']) fs.mkdirSync(path.join(tmp, d), { recursive: true });
  log(`# temp folder: ${tmp}`);
  let browser;
  try {
    // redis-server: the shared queue state.
    const redisPort = await freePort();
    await start('redis', redisBin, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', path.join(tmp, 'redis')], path.join(tmp, 'logs/redis.log'), /Ready to accept connections/);

    // Two anteroom processes sharing it.
    const nodes = [];
    for (const id of ['a', 'b']) {
      const { child, match } = await start(`anteroom-${id}`, args.anteroom, [
        '--listen', '127.0.0.1:0', '--redis', `redis://127.0.0.1:${redisPort}`, '--admin-token', ADMIN,
        '--token-secret', SECRET, '--node-id', `browser-${id}`, '--tick-ms', '50', '--join-rate-per-ip', '0',
        '--trust-proxy'], path.join(tmp, `logs/anteroom-${id}.log`), /anteroom listening on http:\/\/127\.0\.0\.1:(\d+)/);
      nodes.push({ id, child, port: Number(match[1]) });
    }

    // The protected site: one static page.
    fs.writeFileSync(path.join(tmp, 'site/shop/index.html'), `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>The shop</title></head>
<body style="font:18px/1.5 system-ui,sans-serif;margin:2rem">
<h1 id="shop">Welcome to the shop</h1><p>You are past the waiting room. This page is served by nginx only to visitors with a valid admission token.</p>
</body></html>\n`);

    // nginx with the example config.
    const nginxPort = await freePort();
    // Fills @NAME@ placeholders outside comment lines; an unknown one is an error.
    const fill = (text, vars) => text.split('\n').map((line) => /^\s*#/.test(line) ? line
      : line.replace(/@([A-Z_]+)@/g, (m, k) => { if (!(k in vars)) throw new Error(`no value for ${m}`); return vars[k]; })).join('\n');
    const siteConf = path.join(tmp, 'conf/anteroom-site.conf');
    fs.writeFileSync(siteConf, fill(fs.readFileSync(path.join(ROOT, 'examples/nginx/anteroom-site.conf.in'), 'utf8'), {
      LISTEN: `127.0.0.1:${nginxPort}`, QUEUE, SITE_ROOT: path.join(tmp, 'site'),
      ANTEROOM_SERVERS: nodes.map((n) => `server 127.0.0.1:${n.port} max_fails=1 fail_timeout=10s;`).join('\n    '),
    }));
    const mainConf = path.join(tmp, 'conf/nginx.conf');
    fs.writeFileSync(mainConf, fill(fs.readFileSync(path.join(ROOT, 'examples/nginx/nginx.conf.in'), 'utf8'), {
      USER: os.userInfo().username, SITE_CONF: siteConf,
    }));
    const nginxArgs = ['-p', tmp, '-c', mainConf, '-e', path.join(tmp, 'logs/error.log')];
    try { execFileSync(nginxBin, [...nginxArgs, '-t'], { stdio: 'pipe' }); } catch (e) {
      throw new Error(`nginx -t refused the generated config:\n${e.stderr}`);
    }
    const nginx = (await start('nginx', nginxBin, nginxArgs, path.join(tmp, 'logs/nginx.out'), null)).child;
    const site = `http://127.0.0.1:${nginxPort}`;
    await until('nginx to answer', async () => {
      if (nginx.exited) throw Object.assign(new Error(`nginx exited; see error.log in ${args.out}`), { fatal: true });
      return (await http('GET', `${site}/shop/`)).status === 302;
    });

    const admin = async (patch) => {
      const r = await http('PUT', `${site}/v1/queues/${QUEUE}`, { admin: true, body: patch });
      assert(r.status === 200 || r.status === 201, `PUT /v1/queues/${QUEUE} ${JSON.stringify(patch)} → ${r.status} ${r.text}`);
      return r.json;
    };
    // Nobody is let in until the test opens capacity step by step.
    const config = { admit_per_s: 50, max_active: 0, session_ttl_s: 600, abandon_after_s: 300, paused: false, target_url: '/shop/' };
    await admin(config);

    browser = await launch(chromium, args);
    const pageErrors = [];
    const watch = (page, who) => {
      page.on('pageerror', (e) => pageErrors.push(`${who}: ${e.message}`));
      page.on('console', (m) => { if (m.type() === 'error') log(`# ${who} console error: ${m.text()}`); });
    };
    const shot = (page, file, what) => save(args.out, page, file, what);
    const isShop = (r) => new URL(r.url()).pathname === '/shop/' && r.request().isNavigationRequest() && r.request().frame().parentFrame() === null;

    const ahead = [];
    const pages = [];
    const queues = [QUEUE];  // every queue the test made (the on-sale adds its own)
    setDiagnose(async () => {
      for (const n of nodes) {
        if (n.child.exited) { log(`# anteroom-${n.id}: not running`); continue; }
        for (const name of queues) {
          const q = await http('GET', `http://127.0.0.1:${n.port}/v1/queues/${name}`, { admin: true });
          log(`# anteroom-${n.id} (:${n.port}) queue: ${q.text}`);
        }
        const m = await http('GET', `http://127.0.0.1:${n.port}/metrics`);
        log(`# anteroom-${n.id} metrics: ${m.text.split('\n').filter((l) => /^anteroom_(sse|hub|outbox|redis|events|resync|positions|admissions|draw)/.test(l)).join(' | ')}`);
        for (const [who, pg] of pages) {
          if (pg.isClosed()) continue;
          for (const name of queues) {
            const t = await pg.evaluate((k) => localStorage.getItem(k), `anteroom:${name}`).catch(() => null);
            if (t) log(`# anteroom-${n.id} ${who} ${name} ticket ${t}: ${(await http('GET', `http://127.0.0.1:${n.port}/v1/queues/${name}/tickets/${t}`)).text}`);
          }
        }
      }
      for (const [who, pg] of pages) {
        if (pg.isClosed()) continue;
        const st = await pg.evaluate(() => {
          const pos = document.getElementById('position');
          const head = document.getElementById('head');
          return `state=${document.body && document.body.dataset.state} position=${pos && pos.dataset.value} head=${JSON.stringify(head && head.textContent)}`;
        }).catch((e) => `(${e.message.split('\n')[0]})`);
        log(`# ${who} page: ${pg.url()} ${st}`);
      }
    });
    // Every visitor has "reduce motion" set: the page then draws the progress bar without its
    // transition, so each screenshot shows the bar's final fill (the transition runs on a
    // pseudo-element that Playwright's animations:'disabled' does not reach).
    const still = { reducedMotion: 'reduce' };
    // Visitor 1 on a phone-sized screen, and a recorder of every position the page shows.
    const phone = await browser.newContext({ ...still, viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    await phone.addInitScript(() => {
      window.__positions = [];
      document.addEventListener('DOMContentLoaded', () => {
        const el = document.getElementById('position');
        if (!el) return;
        new MutationObserver(() => {
          const v = Number(el.getAttribute('data-value'));
          if (v && window.__positions[window.__positions.length - 1] !== v) window.__positions.push(v);
        }).observe(el, { attributes: true, attributeFilter: ['data-value'] });
      });
    });
    const page = await phone.newPage();
    page.setDefaultTimeout(WAIT_MS);
    watch(page, 'visitor 1');
    pages.push(['visitor 1', page]);

    let myTicket = '', myToken = '';

    await scenario('opening the protected URL without a token lands on the waiting page', async () => {
      for (let i = 0; i < 3; i++) {
        const r = await http('POST', `${site}/v1/queues/${QUEUE}/tickets`);
        assertEq(r.status, 201, 'join ahead');
        ahead.push(r.json.ticket);
      }
      const resp = await page.goto(`${site}/shop/`);
      assertEq(new URL(page.url()).pathname, `/q/${QUEUE}`, 'landed on');
      assertEq(resp.status(), 200, 'waiting page status');
      const from = resp.request().redirectedFrom();
      assert(from && new URL(from.url()).pathname === '/shop/', 'the waiting page was reached by a redirect from /shop/');
      assertEq((await from.response()).status(), 302, 'status of /shop/ without a token');
      await page.waitForSelector('body[data-state="waiting"] #position[data-value]');
      assertEq(await page.textContent('#queue'), QUEUE, '#queue');
      assertEq(await page.getAttribute('#position', 'data-value'), '4', 'position behind 3 visitors');
      assert((await page.textContent('#eta')).trim() !== '', '#eta is shown');
      assert(await page.isVisible('#progress'), 'progress bar visible');
      assertEq(await page.getAttribute('#live', 'aria-live'), 'polite', '#live is a polite live region');
      assertEq(await page.getAttribute('#live', 'role'), 'status', '#live role');
      assert(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scrolling on a phone');
      await until('the live region to announce the position', async () => /number 4 in line/.test(await page.textContent('#live')));
      myTicket = await page.evaluate((k) => localStorage.getItem(k), `anteroom:${QUEUE}`);
      assert(/^[A-Za-z0-9_-]{22}$/.test(myTicket || ''), `ticket stored by the page: ${myTicket}`);
      await shot(page, '01-waiting-page.png', 'visitor 1 (phone) sent from /shop/ to the waiting page: number 4 in line, nobody let in yet (max_active 0), so no ETA yet');
    });

    await scenario('the position goes down as visitors ahead are admitted', async () => {
      for (let k = 1; k <= 3; k++) {
        await admin({ max_active: k });
        await page.waitForSelector(`#position[data-value="${4 - k}"]`);
        const p = await page.$eval('#progress', (e) => [e.max, e.value]);
        assertEq(p, [4, k], `progress [max, value] at position ${4 - k}`);
        if (k === 2) {
          await shot(page, '02-position-2.png', 'visitor 1 moved up to number 2; progress bar half full; ETA shown');
          // Paused: the place is kept and the page says so.
          await admin({ paused: true });
          await page.waitForSelector('body[data-state="paused"]');
          assertEq(await page.textContent('#eta'), 'waiting for the sale to resume', '#eta while paused');
          assertEq(await page.getAttribute('#position', 'data-value'), '2', 'position while paused');
          await shot(page, '03-paused.png', 'the operator paused the queue: visitor 1 keeps number 2, told the sale is paused');
          await admin({ paused: false });
          await page.waitForSelector('body[data-state="waiting"]');
        }
      }
      assertEq(await page.evaluate(() => window.__positions), [4, 3, 2, 1], 'positions shown, in order');
      assertEq(await page.getAttribute('body', 'data-state'), 'waiting', 'state');
      assert(/number 1 in line/.test(await page.textContent('#line')), '#line reads "number 1 in line"');
      await shot(page, '04-position-1.png', 'visitor 1 is next: position 1, progress bar 3/4');
    });

    await scenario('on admission the browser ends up on the protected page, no click', async () => {
      const landed = page.waitForResponse(isShop);
      await admin({ max_active: 4 });
      const resp = await landed;
      assertEq(resp.status(), 200, 'protected page status through nginx');
      const h = resp.headers();
      assertEq(h['x-anteroom-queue'], QUEUE, 'X-Anteroom-Queue passed on by nginx');
      assertEq(h['x-anteroom-ticket'], myTicket, 'X-Anteroom-Ticket passed on by nginx');
      await page.waitForSelector('#shop');
      const cookie = (await phone.cookies(site)).find((c) => c.name === 'anteroom_token');
      assert(cookie && cookie.path === '/', 'the page set the anteroom_token cookie on path /');
      myToken = cookie.value;
      assertEq(new URL(page.url()).searchParams.get('anteroom_token'), myToken, 'redirect carries the same token');
      // The cookie alone (no query parameter) opens the site too.
      const again = await page.goto(`${site}/shop/`);
      assertEq(again.status(), 200, '/shop/ with the cookie only');
      assertEq(again.request().redirectedFrom(), null, 'no redirect with a valid cookie');
      await shot(page, '05-protected-page.png', 'visitor 1 admitted: on /shop/ (200 through nginx auth_request), no click');
    });

    // Visitor 2 (desktop) arrives with a forged token: visitor 1's, claiming another ticket.
    const desk = await browser.newContext({ ...still, viewport: { width: 1280, height: 800 } });
    const page2 = await desk.newPage();
    page2.setDefaultTimeout(WAIT_MS);
    watch(page2, 'visitor 2');
    pages.push(['visitor 2', page2]);
    let ticket2 = '';

    await scenario('a tampered token cookie is sent back to the waiting page', async () => {
      const [h, p, s] = myToken.split('.');
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
      claims.ticket = ahead[0];  // someone else's admission, same signature
      const forged = [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s].join('.');
      // Control: the genuine token opens the site, the forged one does not.
      assertEq((await http('GET', `${site}/shop/`, { headers: { Cookie: `anteroom_token=${myToken}` } })).status, 200, 'genuine cookie');
      const direct = await http('GET', `${site}/shop/`, { headers: { Cookie: `anteroom_token=${forged}` } });
      assertEq([direct.status, direct.headers.get('location')], [302, `/q/${QUEUE}`], 'forged cookie → 302 to the waiting page');
      await desk.addCookies([{ name: 'anteroom_token', value: forged, url: site }]);
      const resp = await page2.goto(`${site}/shop/`);
      assertEq(new URL(page2.url()).pathname, `/q/${QUEUE}`, 'landed on');
      const from = resp.request().redirectedFrom();
      assert(from && new URL(from.url()).pathname === '/shop/', 'redirected from /shop/');
      assertEq((await from.response()).status(), 302, 'status of /shop/ with the forged cookie');
      await page2.waitForSelector('body[data-state="waiting"] #position[data-value="1"]');
      ticket2 = await page2.evaluate((k) => localStorage.getItem(k), `anteroom:${QUEUE}`);
      await shot(page2, '06-tampered-cookie.png', 'visitor 2 (desktop) with a forged cookie: sent to the waiting page, position 1');
    });

    await scenario('kill -9 of the process serving the stream: the page reconnects and is still admitted', async () => {
      // The one process holding the page's SSE stream (visitor 1's stream is closed by now).
      const counts = async () => Promise.all(nodes.map((n) => metric(n.port, 'anteroom_sse_streams')));
      const serving = await until('exactly one open stream', async () => {
        const c = await counts();
        return c[0] + c[1] === 1 ? nodes[c.indexOf(1)] : null;
      });
      const other = nodes.find((n) => n !== serving);
      log(`# visitor 2's stream is on anteroom-${serving.id} (:${serving.port}); kill -9 it`);
      serving.child.p.kill('SIGKILL');
      await exited(serving.child);
      await page2.waitForSelector('#conn', { state: 'visible' });
      await shot(page2, '07-reconnecting.png', `visitor 2 after kill -9 of anteroom-${serving.id}: "Reconnecting…" shown, place kept`);
      await until(`the stream to reopen on anteroom-${other.id}`, async () => (await metric(other.port, 'anteroom_sse_streams')) === 1);
      await page2.waitForSelector('#conn', { state: 'hidden' });
      assertEq(await page2.getAttribute('body', 'data-state'), 'waiting', 'state after reconnect');
      assertEq(await page2.getAttribute('#position', 'data-value'), '1', 'position after reconnect');
      await shot(page2, '08-reconnected.png', `visitor 2 reconnected through nginx to anteroom-${other.id}: position 1`);
      const landed = page2.waitForResponse(isShop);
      await admin({ max_active: 5 });
      const resp = await landed;
      assertEq(resp.status(), 200, 'protected page status through nginx');
      assertEq(resp.headers()['x-anteroom-ticket'], ticket2, 'X-Anteroom-Ticket');
      await page2.waitForSelector('#shop');
      await shot(page2, '09-admitted-after-failover.png', 'visitor 2 admitted by the surviving process: on /shop/ (200)');
    });

    await scenario('leaving and closing: ended and closed states, re-join with the keyboard', async () => {
      const ctx = await browser.newContext({ ...still, viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
      const p3 = await ctx.newPage();
      p3.setDefaultTimeout(WAIT_MS);
      watch(p3, 'visitor 3');
      pages.push(['visitor 3', p3]);
      await p3.goto(`${site}/shop/`);
      await p3.waitForSelector('body[data-state="waiting"] #position[data-value="1"]');
      const t3 = await p3.evaluate((k) => localStorage.getItem(k), `anteroom:${QUEUE}`);
      // The ticket leaves the line (as from another tab): the page says so and offers to re-join.
      assertEq((await http('DELETE', `${site}/v1/queues/${QUEUE}/tickets/${t3}`)).status, 200, 'leave');
      await p3.waitForSelector('body[data-state="ended"] #action:visible');
      assertEq(await p3.textContent('#action'), 'Join the line again', '#action label');
      assert(/left the line/i.test(await p3.textContent('#live')), 'the live region announced the end at once');
      await shot(p3, '10-ended.png', 'visitor 3 (360 px wide) left the line: "You left the line", button to join again');
      await p3.keyboard.press('Tab');
      assertEq(await p3.evaluate(() => document.activeElement && document.activeElement.id), 'action', 'Tab reaches the button');
      await p3.keyboard.press('Enter');
      await p3.waitForSelector('body[data-state="waiting"] #position[data-value="1"]');
      assert((await p3.evaluate((k) => localStorage.getItem(k), `anteroom:${QUEUE}`)) !== t3, 'a new ticket after re-joining');
      // The operator closes the sale: every waiting visitor is told.
      assertEq((await http('DELETE', `${site}/v1/queues/${QUEUE}`, { admin: true })).status, 200, 'close the queue');
      await p3.waitForSelector('body[data-state="closed"]');
      assertEq(await p3.textContent('#head'), 'This sale has closed', '#head when closed');
      await shot(p3, '11-closed.png', 'the operator closed the queue: visitor 3 sees "This sale has closed"');
      await ctx.close();
    });

    await scenario('a site that keeps sending an admitted visitor back causes no redirect loop', async () => {
      await admin({ ...config, max_active: 100 });  // reopens the closed queue, with room
      const ctx = await browser.newContext({ ...still, viewport: { width: 1280, height: 800 } });
      // This site refuses every visitor (as if the browser dropped the cookie): straight back.
      const bounced = [];
      await ctx.route((u) => u.pathname === '/shop/', (route) => {
        bounced.push(route.request().url());
        return route.fulfill({ status: 302, headers: { Location: `/q/${QUEUE}`, 'Cache-Control': 'no-store' } });
      });
      const p4 = await ctx.newPage();
      p4.setDefaultTimeout(WAIT_MS);
      watch(p4, 'visitor 4');
      pages.push(['visitor 4', p4]);
      await p4.goto(`${site}/q/${QUEUE}`);
      await p4.waitForSelector('body[data-state="admitted"] #action:visible');
      assertEq(await p4.textContent('#action'), 'Continue to the site', '#action label');
      // The page now holds a stream open for the session (the surviving process has it) and
      // has heard the admission again from it, without leaving.
      const live = nodes.find((n) => !n.child.exited);
      await until('the stopped page to hold its stream', async () => (await metric(live.port, 'anteroom_sse_streams')) >= 1);
      await p4.waitForFunction(() => document.getElementById('conn').hidden);
      assertEq(bounced.length, 3, 'round trips to the site before the page stopped');
      assertEq(await p4.getAttribute('body', 'data-state'), 'admitted', 'state stays');
      await shot(p4, '12-redirect-loop-stopped.png', 'visitor 4, admitted but bounced back by the site 3 times: the page stops and offers "Continue to the site"');
      await ctx.close();
    });

    // The on-sale (a queue of its own, on the surviving process): a pre-queue open now, the draw
    // in 8 s. Every wait is for a page state; the draw itself is the server's, at opens_at.
    await scenario('the on-sale: in the draw, the draw, the operator\'s message live, reject, closes_at', async () => {
      const Q = 'concert';
      queues.push(Q);
      const put = async (patch) => {
        const r = await http('PUT', `${site}/v1/queues/${Q}`, { admin: true, body: patch });
        assert(r.status === 200 || r.status === 201, `PUT /v1/queues/${Q} ${JSON.stringify(patch)} → ${r.status} ${r.text}`);
        return r.json;
      };
      const status = async (t) => (await http('GET', `${site}/v1/queues/${Q}/tickets/${t}`)).json;
      const now = Math.floor(Date.now() / 1000);
      // Nobody is let in (max_active 0): after the draw each entrant's position is its place.
      await put({ admit_per_s: 50, max_active: 0, session_ttl_s: 600, abandon_after_s: 300, target_url: '/shop/',
        prequeue_at: now, opens_at: now + 8 });
      const joins = await Promise.all(Array.from({ length: 30 }, () => http('POST', `${site}/v1/queues/${Q}/tickets`)));
      for (const r of joins) {
        assertEq([r.status, r.json && r.json.status], [201, 'prequeue'], 'a pre-queue join');
        assert(/^[A-Za-z0-9_-]{22}$/.test(r.json.entry_id || ''), `entry id of a pre-queue join: ${r.text}`);
      }
      const others = joins.map((r) => r.json.ticket);

      const ctx = await browser.newContext({ ...still, viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
      const p5 = await ctx.newPage();
      p5.setDefaultTimeout(WAIT_MS);
      watch(p5, 'visitor 5');
      pages.push(['visitor 5', p5]);
      await p5.goto(`${site}/q/${Q}`);
      await p5.waitForSelector('body[data-state="prequeue"]');
      await until('the page to count 31 entrants', async () => /in the draw \u2014 31 entrants$/.test(await p5.textContent('#head')));
      const t5 = await p5.evaluate((k) => localStorage.getItem(k), `anteroom:${Q}`);
      const st5 = await status(t5);
      assertEq(st5.status, 'prequeue', 'status of the page\'s ticket before the draw');
      assertEq(await p5.textContent('#entry'), st5.entry_id, 'entry id in "Check the draw"');
      assert(Number(await p5.getAttribute('#countdown', 'data-seconds')) > 0, 'the countdown runs');
      assert(await p5.isVisible('#countdown'), 'the countdown is shown');
      assertEq(await p5.textContent('#whenlabel'), 'The draw is in', 'countdown label');
      const pre = (await http('GET', `${site}/v1/queues/${Q}/draw`)).json;
      assert(pre && pre.state === 'prequeue' && /^[0-9a-f]{64}$/.test(pre.commitment) && !pre.seed,
        `the draw before it happens: a commitment, no seed: ${JSON.stringify(pre)}`);
      await p5.click('#draw summary');
      await p5.waitForFunction((c) => document.getElementById('commitment').textContent === c, pre.commitment);
      assert(/in the draw/.test(await p5.textContent('#live')), 'the live region announced the draw entry');
      await shot(p5, 'onsale-countdown.png', 'visitor 5 (phone) in the pre-queue: "You are in the draw — 31 entrants", the countdown to the draw, entry id and commitment');
      assertEq(await p5.getAttribute('body', 'data-state'), 'prequeue', 'still before the draw after the screenshot');

      // The draw, at opens_at: the page shows its place at once (no reload).
      await p5.waitForSelector('body[data-state="waiting"] #place[data-value]');
      const place = Number(await p5.getAttribute('#place', 'data-value'));
      assertEq((await p5.textContent('#place')), `Your place in the draw: ${place} of 31`, '#place');
      assertEq(await p5.getAttribute('#position', 'data-value'), String(place), 'position = place (nobody let in yet)');
      await until('the live region to announce the place', async () =>
        (await p5.textContent('#live')).includes(`Your place in the draw: ${place} of 31`));
      const after = await status(t5);
      assertEq([after.status, after.place, after.position, after.entry_id], ['waiting', place, place, st5.entry_id], 'the ticket after the draw');
      const places = [place, ...(await Promise.all(others.map(status))).map((s) => s.place)].sort((a, b) => a - b);
      assertEq(places, Array.from({ length: 31 }, (_, i) => i + 1), 'the places of the 31 entrants');
      // "Check the draw" (open since the countdown) now shows the seed: SHA-256 of its bytes is
      // the commitment it showed before the draw.
      await p5.waitForSelector('#seed:visible');
      const seed = await p5.textContent('#seed');
      assert(/^[0-9a-f]{64}$/.test(seed), `the seed shown after the draw: ${seed}`);
      assertEq(createHash('sha256').update(Buffer.from(seed, 'hex')).digest('hex'), pre.commitment, 'sha256(seed) = the commitment shown before');
      await shot(p5, 'onsale-drawn.png', `visitor 5 right after the draw: "Your place in the draw: ${place} of 31", number ${place} in line`);

      // The operator's message appears live, as text (never markup), without a reload.
      await p5.evaluate(() => { window.__sameDocument = true; });
      const message = 'Extra date added: Sunday at 12:00.\nAt most 4 tickets per order <no exceptions>.';
      await put({ message });
      await p5.waitForSelector('#bannerbox:visible');
      assertEq(await p5.textContent('#banner'), message, '#banner');
      assertEq(await p5.$eval('#banner', (e) => e.childElementCount), 0, 'the message is text only');
      assertEq(await p5.getAttribute('#notice', 'aria-live'), 'polite', 'the message sits in a polite live region');
      assertEq(await p5.evaluate(() => window.__sameDocument), true, 'no reload');
      await shot(p5, 'onsale-message.png', 'visitor 5: the operator\'s message appears live, above the place');

      // mode reject: a new visitor gets the message and a button, no ticket; the line is kept.
      await put({ mode: 'reject' });
      const ctx6 = await browser.newContext({ ...still, viewport: { width: 1280, height: 800 } });
      const p6 = await ctx6.newPage();
      p6.setDefaultTimeout(WAIT_MS);
      watch(p6, 'visitor 6');
      pages.push(['visitor 6', p6]);
      await p6.goto(`${site}/q/${Q}`);
      await p6.waitForSelector('body[data-state="rejected"] #action:visible');
      assertEq(await p6.textContent('#banner'), message, 'the operator\'s message on the refusal');
      assertEq(await p6.textContent('#action'), 'Try again', '#action label');
      assertEq(await p6.evaluate((k) => localStorage.getItem(k), `anteroom:${Q}`), null, 'no ticket stored');
      assertEq(await p5.getAttribute('body', 'data-state'), 'waiting', 'visitor 5 keeps waiting under mode reject');
      await shot(p6, 'onsale-reject.png', 'visitor 6 (desktop) under mode reject: the operator\'s message, no join, "Try again"');

      // closes_at reached: the queue closes; the waiting visitor is told at once, and trying
      // again gets the same answer.
      await put({ closes_at: Math.floor(Date.now() / 1000) + 2 });
      await p5.waitForSelector('body[data-state="closed"]');
      assertEq(await p5.textContent('#head'), 'This sale has closed', '#head when closed by closes_at');
      assert(/closed/.test(await p5.textContent('#live')), 'the live region announced the close');
      await shot(p5, 'onsale-closed.png', 'visitor 5 when closes_at is reached: "This sale has closed"');
      await p6.click('#action');
      await p6.waitForSelector('body[data-state="closed"]');
      assert(/^The sale closed at /.test(await p6.textContent('#msg')), 'the 410 refusal names the closing time');
      await ctx.close();
      await ctx6.close();
    });

    // Before prequeue_at: the page counts down to it, then joins the pre-queue by itself.
    await scenario('the on-sale before entries open: a countdown, then the page enters the draw by itself', async () => {
      const Q = 'gala';
      queues.push(Q);
      const now = Math.floor(Date.now() / 1000);
      const r = await http('PUT', `${site}/v1/queues/${Q}`, { admin: true,
        body: { admit_per_s: 50, max_active: 0, target_url: '/shop/', prequeue_at: now + 4, opens_at: now + 600 } });
      assert(r.status === 200 || r.status === 201, `PUT /v1/queues/${Q} → ${r.status} ${r.text}`);
      const early = await http('POST', `${site}/v1/queues/${Q}/tickets`);
      assertEq([early.status, early.json && early.json.error], [403, 'not_open_yet'], 'a join before prequeue_at');
      const ctx = await browser.newContext({ ...still, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
      const p7 = await ctx.newPage();
      p7.setDefaultTimeout(WAIT_MS);
      watch(p7, 'visitor 7');
      pages.push(['visitor 7', p7]);
      await p7.goto(`${site}/q/${Q}`);
      await p7.waitForSelector('body[data-state="before"] #countdown[data-seconds]');
      assertEq(await p7.textContent('#whenlabel'), 'Entries open in', 'countdown label');
      assert(Number(await p7.getAttribute('#countdown', 'data-seconds')) >= 1, 'counting down to prequeue_at');
      assertEq(await p7.evaluate((k) => localStorage.getItem(k), `anteroom:${Q}`), null, 'no ticket before entries open');
      await shot(p7, 'onsale-not-open.png', 'visitor 7 before prequeue_at: "The sale has not opened yet", a countdown to entries opening');
      await p7.waitForSelector('body[data-state="prequeue"]');
      const t7 = await p7.evaluate((k) => localStorage.getItem(k), `anteroom:${Q}`);
      assertEq((await http('GET', `${site}/v1/queues/${Q}/tickets/${t7}`)).json.status, 'prequeue', 'the page joined the pre-queue');
      await until('the page to count 1 entrant', async () => /in the draw \u2014 1 entrant$/.test(await p7.textContent('#head')));
      await ctx.close();
    });

    // mode random: a post-open joiner has no position but a lottery with a likely wait.
    await scenario('mode random: the page shows the lottery, not a position', async () => {
      const Q = 'raffle';
      queues.push(Q);
      const r = await http('PUT', `${site}/v1/queues/${Q}`, { admin: true,
        body: { admit_per_s: 1, max_active: 1, target_url: '/shop/', mode: 'random' } });
      assert(r.status === 200 || r.status === 201, `PUT /v1/queues/${Q} → ${r.status} ${r.text}`);
      // One visitor takes the only slot; 20 more wait in the lottery.
      const firstIn = await http('POST', `${site}/v1/queues/${Q}/tickets`);
      assertEq(firstIn.status, 201, 'first join');
      await until('the first visitor to be let in', async () =>
        (await http('GET', `${site}/v1/queues/${Q}/tickets/${firstIn.json.ticket}`)).json.status === 'active');
      for (let i = 0; i < 20; i++) assertEq((await http('POST', `${site}/v1/queues/${Q}/tickets`)).status, 201, 'a lottery join');
      const ctx = await browser.newContext({ ...still, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
      const p8 = await ctx.newPage();
      p8.setDefaultTimeout(WAIT_MS);
      watch(p8, 'visitor 8');
      pages.push(['visitor 8', p8]);
      await p8.goto(`${site}/q/${Q}`);
      await p8.waitForSelector('body[data-state="lottery"] #lot:visible');
      await until('the lottery to count 21 waiting', async () => (await p8.getAttribute('#lot', 'data-waiting')) === '21');
      const lot = await p8.textContent('#lot');
      assert(/^In the lottery \u2014 21 waiting; (likely .+ (min|h)|likely less than a minute|wait not known yet)$/.test(lot), `#lot: ${lot}`);
      assert(await p8.isHidden('#position'), 'no position in the lottery');
      const t8 = await p8.evaluate((k) => localStorage.getItem(k), `anteroom:${Q}`);
      const st = (await http('GET', `${site}/v1/queues/${Q}/tickets/${t8}`)).json;
      assertEq([st.status, st.lottery, 'position' in st], ['waiting', true, false], 'the ticket in the lottery');
      assert(/in the lottery/i.test(await p8.textContent('#live')), 'the live region announced the lottery');
      await shot(p8, 'onsale-lottery.png', `visitor 8 in mode random: "${lot}"`);
      await ctx.close();
    });

    // Bots pay: a queue that asks a proof of work at the default difficulty (`"pow": true`).
    // The page is refused with a challenge, solves it in its Web Worker and joins with the proof.
    // The page's join with the proof is held until the checking state is photographed (the
    // solve itself takes well under a second), then let through.
    await scenario('proof of work: the page solves the default difficulty in a worker and joins', async () => {
      const Q = 'drop';
      queues.push(Q);
      const r = await http('PUT', `${site}/v1/queues/${Q}`, { admin: true,
        body: { admit_per_s: 50, max_active: 0, target_url: '/shop/', pow: true } });
      assert(r.status === 200 || r.status === 201, `PUT /v1/queues/${Q} → ${r.status} ${r.text}`);
      const bits = r.json && r.json.config && r.json.config.pow && r.json.config.pow.bits;
      assert(bits >= 1 && bits <= 32, `the default bits in config.pow: ${r.text}`);
      // A JSON client without a proof: refused, with a challenge at those bits in the refusal.
      const bare = await http('POST', `${site}/v1/queues/${Q}/tickets`);
      assertEq([bare.status, bare.json && bare.json.error], [403, 'pow_required'], 'a join without a proof');
      assert(bare.json.challenge && /^pow1\.drop\.\d+\.\d+\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/.test(bare.json.challenge.challenge),
        `the refusal carries a challenge: ${bare.text}`);
      assertEq(bare.json.challenge.bits, bits, 'the challenge asks the queue\'s bits');

      const ctx = await browser.newContext({ ...still, viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
      let proof = null, release = null;
      const held = new Promise((resolve) => { release = resolve; });
      await ctx.route(`**/v1/queues/${Q}/tickets`, async (route) => {
        const req = route.request();
        if (req.method() === 'POST') {
          let b = {}; try { b = JSON.parse(req.postData() || '{}'); } catch {}
          if (b.pow) { proof = b.pow; await held; }
        }
        await route.continue();
      });
      const p9 = await ctx.newPage();
      p9.setDefaultTimeout(WAIT_MS);
      watch(p9, 'visitor 9');
      pages.push(['visitor 9', p9]);
      await p9.goto(`${site}/q/${Q}`);
      await p9.waitForSelector('body[data-state="checking"]');
      assertEq(await p9.textContent('#head'), 'Checking your browser\u2026', '#head while checking');
      assertEq(await p9.textContent('#barlabel'), 'Checking your browser', 'the progress bar\'s label while checking');
      assert(await p9.isVisible('#progress'), 'a progress bar while checking');
      await until('the live region to announce the check', async () => /Checking your browser/.test(await p9.textContent('#live')));
      await until('the page to send its proof', async () => proof);
      // The proof the page sends: SHA-256(challenge ":" nonce) has the bits, checked here.
      assert(/^pow1\.drop\./.test(proof.challenge) && /^[A-Za-z0-9_-]{1,32}$/.test(proof.nonce), `the proof: ${JSON.stringify(proof)}`);
      const digest = createHash('sha256').update(`${proof.challenge}:${proof.nonce}`).digest();
      let zeros = 0;
      for (const byte of digest) { if (byte === 0) { zeros += 8; continue; } zeros += Math.clz32(byte) - 24; break; }
      assert(zeros >= bits, `SHA-256 of the page's proof has ${zeros} leading zero bits, want ${bits}`);
      assertEq(await p9.getAttribute('body', 'data-state'), 'checking', 'still checking while the join is held');
      assertEq(await p9.getAttribute('body', 'data-pow-bits'), String(bits), 'the page solved the queue\'s bits');
      await shot(p9, 'pow-checking.png', `visitor 9 (phone), queue with "pow": true: "Checking your browser…", the ${bits}-bit proof just found`);
      release();
      await p9.waitForSelector('body[data-state="waiting"] #position[data-value="1"]');
      const ms = Number(await p9.getAttribute('body', 'data-pow-ms'));
      const hashes = Number(await p9.getAttribute('body', 'data-pow-hashes'));
      const work = Number(await p9.getAttribute('body', 'data-pow-work-ms'));
      assert(ms >= 0 && hashes >= 1, `the page's solve time and tries: ${ms} ms, ${hashes}`);
      log(`# proof of work in the page: ${bits} bits solved in ${ms} ms (${hashes} hashes, ${work} ms of them in the worker` +
        `${work > 0 ? `: ${Math.round(hashes / work * 1000).toLocaleString('en-US')} hashes/s` : ''})`);
      const t9 = await p9.evaluate((k) => localStorage.getItem(k), `anteroom:${Q}`);
      const st = (await http('GET', `${site}/v1/queues/${Q}/tickets/${t9}`)).json;
      assertEq([st.status, st.position, st.skip], ['waiting', 1, false], 'the ticket the proof bought');
      // The proof cannot be used a second time (by anyone, on any process).
      const again = await http('POST', `${site}/v1/queues/${Q}/tickets`, { body: { pow: proof } });
      assertEq([again.status, again.json && again.json.error], [403, 'pow_used'], 'the page\'s proof sent again');
      let verified = 0;
      for (const n of nodes) if (!n.child.exited) verified += await metric(n.port, 'anteroom_pow_verified_total');
      assert(verified >= 1, `anteroom_pow_verified_total counts the page's join: ${verified}`);
      // The worker as served through nginx: named with its version by the page, cached for good
      // under it; the page's policy lets it run (worker-src 'self') and nothing else was added.
      const wurl = await p9.getAttribute('meta[name="anteroom-pow-worker"]', 'content');
      assert(/^\/q\/pow-worker\.js\?v=[0-9a-f]{16}$/.test(wurl || ''), `the worker's URL in the page: ${wurl}`);
      const wr = await http('GET', `${site}${wurl}`);
      assertEq([wr.status, wr.headers.get('content-type'), wr.headers.get('cache-control'), wr.headers.get('content-security-policy')],
        [200, 'text/javascript; charset=utf-8', 'public, max-age=31536000, immutable', "default-src 'none'"], 'the worker\'s response');
      assertEq(createHash('sha256').update(wr.text).digest('hex').slice(0, 16), wurl.split('=')[1], 'the version is the worker\'s SHA-256');
      assertEq((await http('GET', `${site}/q/pow-worker.js?v=0000000000000000`)).headers.get('cache-control'), 'no-cache', 'another version is revalidated');
      const csp = (await http('GET', `${site}/q/${Q}`)).headers.get('content-security-policy');
      assertEq(csp, "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; " +
        "worker-src 'self'; base-uri 'none'; form-action 'none'", 'the page\'s Content-Security-Policy');
      await shot(p9, 'pow-line.png', `visitor 9 after the check: number 1 in line (solved in ${ms} ms)`);
      await ctx.close();
    });

    // A proof refused again and again (here by request interception, with real challenges from
    // the server): the page solves each new challenge, at most 3 rounds, then stops with
    // "Try again", which starts over and joins.
    await scenario('proof of work: at most 3 rounds of refusals, then "Try again" joins', async () => {
      const Q = 'drop';
      let refuse = true;
      const proofs = [];
      const ctx = await browser.newContext({ ...still, viewport: { width: 1280, height: 800 } });
      await ctx.route(`**/v1/queues/${Q}/tickets`, async (route) => {
        const req = route.request();
        let b = {}; try { b = JSON.parse(req.postData() || '{}'); } catch {}
        if (req.method() !== 'POST' || !b.pow || !refuse) return route.continue();
        proofs.push(b.pow);
        // A fresh challenge, as the server hands out, in a refusal of the proof.
        const fresh = await http('POST', `${site}/v1/queues/${Q}/tickets`);
        assertEq(fresh.status, 403, 'a fresh challenge from the server');
        await route.fulfill({ status: 403, contentType: 'application/json',
          body: JSON.stringify({ ...fresh.json, error: 'pow_insufficient', message: 'the proof has too few zero bits' }) });
      });
      const p12 = await ctx.newPage();
      p12.setDefaultTimeout(WAIT_MS);
      watch(p12, 'visitor 12');
      pages.push(['visitor 12', p12]);
      await p12.goto(`${site}/q/${Q}`);
      await p12.waitForSelector('body[data-state="error"] #action:visible');
      assertEq(proofs.length, 3, 'proofs sent before the page stops');
      assertEq(new Set(proofs.map((p) => p.challenge)).size, 3, 'each round solves a new challenge');
      assertEq(await p12.textContent('#head'), 'We could not check your browser', '#head after 3 rounds');
      assertEq(await p12.textContent('#action'), 'Try again', '#action label');
      refuse = false;
      await p12.click('#action');
      await p12.waitForSelector('body[data-state="waiting"] #position[data-value="2"]');
      assertEq(proofs.length, 3, 'the new attempt\'s proof was let through');
      await ctx.close();
    });

    // Guests skip: an invite-only queue. The page without a code asks for one; a withdrawn code
    // is refused with its own message; a skip-the-line code puts the visitor first, ahead of two
    // who joined before (nobody is let in: max_active 0); the used-up code from a link is refused.
    await scenario('invite codes: the page asks for a code, explains each refusal, and a skip code goes first', async () => {
      const Q = 'members';
      queues.push(Q);
      const r = await http('PUT', `${site}/v1/queues/${Q}`, { admin: true,
        body: { admit_per_s: 50, max_active: 0, target_url: '/shop/', invite_only: true } });
      assert(r.status === 200 || r.status === 201, `PUT /v1/queues/${Q} → ${r.status} ${r.text}`);
      const mint = async (spec) => {
        const m = await http('POST', `${site}/v1/queues/${Q}/invites`, { admin: true, body: { count: 1, ...spec } });
        assertEq(m.status, 201, `POST invites ${JSON.stringify(spec)}: ${m.text}`);
        return m.json.invites[0].code;
      };
      const regular = await mint({ uses: 2 });
      const skipper = await mint({ uses: 1, skip: true });
      const withdrawn = await mint({ uses: 1 });
      assertEq((await http('DELETE', `${site}/v1/queues/${Q}/invites/${withdrawn}`, { admin: true })).status, 200, 'revoke a code');
      const before = [];
      for (let i = 0; i < 2; i++) {
        const j = await http('POST', `${site}/v1/queues/${Q}/tickets`, { body: { invite: regular } });
        assertEq([j.status, j.json && j.json.position], [201, i + 1], 'a join with the regular code');
        before.push(j.json.ticket);
      }

      const ctx = await browser.newContext({ ...still, viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
      const p10 = await ctx.newPage();
      p10.setDefaultTimeout(WAIT_MS);
      watch(p10, 'visitor 10');
      pages.push(['visitor 10', p10]);
      await p10.goto(`${site}/q/${Q}`);
      await p10.waitForSelector('body[data-state="invite"] #code:visible');
      assertEq(await p10.textContent('#head'), 'This waiting room is by invitation', '#head without a code');
      assertEq(await p10.textContent('label[for="code"]'), 'Invite code', 'the field is labelled');
      assertEq(await p10.evaluate((k) => localStorage.getItem(k), `anteroom:${Q}`), null, 'no ticket without a code');
      await until('the live region to announce the invitation', async () => /by invitation/.test(await p10.textContent('#live')));
      await shot(p10, 'invite-required.png', 'visitor 10 (phone), invite-only queue: "This waiting room is by invitation" and a field for the code');
      await p10.fill('#code', withdrawn.toLowerCase());
      await p10.press('#code', 'Enter');
      await p10.waitForFunction(() => document.getElementById('head').textContent === 'This invite code was withdrawn');
      assertEq(await p10.getAttribute('body', 'data-state'), 'invite', 'state after a withdrawn code');
      assertEq(await p10.evaluate(() => document.activeElement && document.activeElement.id), 'code', 'the field has the focus again');
      await p10.fill('#code', skipper);
      await p10.click('#usecode');
      await p10.waitForSelector('body[data-state="waiting"] #position[data-value]');
      assertEq(await p10.textContent('#head'), 'You skip the line', '#head of a skip ticket');
      assertEq(await p10.getAttribute('#position', 'data-value'), '1', 'the skipper is first');
      const t10 = await p10.evaluate((k) => localStorage.getItem(k), `anteroom:${Q}`);
      const st = (await http('GET', `${site}/v1/queues/${Q}/tickets/${t10}`)).json;
      assertEq([st.status, st.position, st.skip], ['waiting', 1, true], 'the skip ticket');
      const behind = await Promise.all(before.map(async (t) => (await http('GET', `${site}/v1/queues/${Q}/tickets/${t}`)).json.position));
      assertEq(behind, [2, 3], 'the two who joined before are now behind the skipper');
      await until('the live region to announce the skip', async () => /You skip the line/.test(await p10.textContent('#live')));
      await shot(p10, 'invite-skip.png', 'visitor 10 with a skip-the-line code: "You skip the line", number 1 ahead of two earlier visitors, nobody let in');

      // The same single-use code from a link, in another browser: used up.
      const ctx11 = await browser.newContext({ ...still, viewport: { width: 1280, height: 800 } });
      const p11 = await ctx11.newPage();
      p11.setDefaultTimeout(WAIT_MS);
      watch(p11, 'visitor 11');
      pages.push(['visitor 11', p11]);
      await p11.goto(`${site}/q/${Q}?invite=${skipper}`);
      await p11.waitForSelector('body[data-state="invite"] #code:visible');
      assertEq(await p11.textContent('#head'), 'This invite code has been used', '#head for a used-up code');
      assertEq(await p11.inputValue('#code'), skipper, 'the field holds the refused code');
      await shot(p11, 'invite-used-up.png', 'visitor 11 (desktop) following a link with the used-up code: "This invite code has been used"');
      await ctx.close();
      await ctx11.close();
    });

    if (pageErrors.length) fail('no JavaScript errors on the pages', pageErrors.join('\n  '), { stop: true });
  } catch (e) {
    fail('test setup', indent(e));
  } finally {
    if (browser) await browser.close().catch(() => {});
    const stopping = children.filter((c) => !c.exited);
    await stopAll();
    // anteroom promises a clean exit (status 0) on SIGTERM; a crash or a sanitizer report
    // during the journey shows here.
    for (const c of stopping) {
      if (c.name.startsWith('anteroom') && c.code !== 0)
        fail(`${c.name} exits cleanly on SIGTERM`, `exit code ${c.code}, signal ${c.signal}; see ${path.basename(c.logFile)} in ${args.out}`);
    }
    // Keep the evidence next to the screenshots.
    for (const f of fs.readdirSync(path.join(tmp, 'logs'))) if (f.endsWith('.log')) fs.copyFileSync(path.join(tmp, 'logs', f), path.join(args.out, f));
    for (const f of fs.readdirSync(path.join(tmp, 'conf'))) fs.copyFileSync(path.join(tmp, 'conf', f), path.join(args.out, f));
    if (!args.keep) fs.rmSync(tmp, { recursive: true, force: true });
  }
  logScreenshots();
  log(`# logs and generated nginx config: ${args.out}`);
}

await run(main, { waitMs: WAIT_MS, deadlineMs: DEADLINE_MS });
