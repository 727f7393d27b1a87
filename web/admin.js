// The operator's dashboard (served at /admin as /admin/app.js; docs/dashboard.md "The page").
// No framework and no build step. Everything the page shows comes from the admin API with the
// token as a Bearer header; the token lives in the variable `token` below and nowhere else
// (not in storage, a cookie or a URL: the protected site may share this origin and its scripts
// could read storage). Navigation is by '#' fragments, so the page never reloads.
'use strict';

const $ = (id) => document.getElementById(id);
const HISTORY_S = 900;       // the charts' window: 15 minutes of one-second points
const RECONNECT_MS = 2000;   // the admin stream's retry, as the server's `retry: 2000`
const CHARTS = [             // [field of a Point, title, unit]
  ['waiting', 'Waiting', ''], ['active', 'Active', ''], ['admitted_per_s', 'Admitted', '/s'],
  ['joins_per_s', 'Joins', '/s'], ['abandoned_per_s', 'Abandoned', '/s'],
  ['eta_last_s', 'ETA of the last in line', ' s'], ['streams', 'Open streams', ''],
];  // (a negative value is "unknown": an ETA with nobody admitted lately is −1)

let token = null;       // the admin token, for the life of this page only
let streamAbort = null; // stops the admin stream on sign-out
let frame = null;       // the latest overview frame
let current = null;     // the queue's view: {name, points, config, hooks}

// ---- small helpers ----------------------------------------------------------------------------
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'text') e.textContent = v; else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids) e.append(k);
  return e;
}
const svg = (tag, attrs) => {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
};
// Numbers as a person reads them: integers as they are, others to two decimals at most.
function num(v) {
  if (v === null || v === undefined) return '—';
  return Number.isInteger(v) ? String(v) : String(Math.round(v * 100) / 100);
}
function duration(s) {
  if (s === null || s === undefined || s < 0) return '—';
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor(s / 60) % 60} min`;
}
// datetime-local (the browser's local time, no zone) ↔ Unix seconds; '' ↔ null.
function toLocalInput(unix) {
  if (unix === null || unix === undefined) return '';
  const d = new Date(unix * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:` +
    `${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
function fromLocalInput(v) {
  if (!v) return null;
  const ms = new Date(v).getTime();  // a string without a zone is local time
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : NaN;
}
const when = (unix) =>
  (unix === null || unix === undefined ? 'none' : new Date(unix * 1000).toLocaleString());

let statusTimer = null;
// Shows what a change did (once the view shows its result), or the API's error message, until
// the next change or until the operator goes to another view (`view`: the message's fragment).
function say(text, kind = 'ok', view = location.hash) {
  const s = $('status');
  s.textContent = text;
  s.dataset.kind = kind;
  s.dataset.view = view;
  s.hidden = false;
  clearTimeout(statusTimer);
  if (kind === 'ok') statusTimer = setTimeout(() => { s.hidden = true; }, 15000);
}

// ---- the API ----------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error;
  }
}

// One call with the token. A 401 ends the session: back to the form with "wrong token".
async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { method, headers, cache: 'no-store', credentials: 'omit',
    body: body === undefined ? undefined : JSON.stringify(body) });
  let json = null;
  try { json = await r.json(); } catch { /* not JSON: the status says it */ }
  if (r.status === 401) { signOut('wrong token'); throw new ApiError(401, json); }
  if (!r.ok) throw new ApiError(r.status, json);
  return json;
}
const qpath = (q, rest = '') => `/v1/queues/${encodeURIComponent(q)}${rest}`;
const failed = (what) => (e) => { if (e.status !== 401) say(`${what}: ${e.message}`, 'error'); };

// ---- sign-in ----------------------------------------------------------------------------------
async function signIn(ev) {
  ev.preventDefault();
  const field = $('token');
  token = field.value;
  field.value = '';
  $('signin-error').hidden = true;
  try {
    frame = await api('GET', '/v1/admin/overview');
  } catch (e) {
    if (e.status !== 401) { signOut(`cannot sign in: ${e.message}`); }
    return;
  }
  document.body.dataset.signedIn = 'true';
  $('signout').hidden = false;
  $('conn').hidden = false;
  setConn('connecting', 'Connecting…');
  renderOverview();
  if (streamAbort) streamAbort.abort();  // a second sign-in (form sent twice): one stream only
  readStream();
  route();
}

function signOut(why) {
  token = null;
  frame = null;
  current = null;
  if (streamAbort) streamAbort.abort();
  streamAbort = null;
  delete document.body.dataset.signedIn;
  $('signout').hidden = true;
  $('conn').hidden = true;
  $('status').hidden = true;
  const err = $('signin-error');
  err.textContent = why || '';
  err.hidden = !why;
  show('signin');
  $('token').focus();
}

function show(view) {
  document.body.dataset.view = view;
  for (const v of ['signin', 'overview', 'queue']) $(v).hidden = v !== view;
}

// ---- the admin stream: fetch + a reader (EventSource cannot send the header) ------------------
function setConn(state, text) {
  const c = $('conn');
  c.dataset.state = state;
  c.textContent = text;
}

async function readStream() {
  const abort = new AbortController();
  streamAbort = abort;
  while (token && !abort.signal.aborted) {
    try {
      const r = await fetch('/v1/admin/stream', {
        headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' },
        cache: 'no-store', credentials: 'omit', signal: abort.signal });
      if (r.status === 401) { signOut('wrong token'); return; }
      if (!r.ok || !r.body) throw new Error(`HTTP ${r.status}`);
      setConn('live', 'Live');
      await readFrames(r.body.getReader(), abort.signal);
    } catch (e) {
      if (abort.signal.aborted) return;
    }
    setConn('reconnecting', 'Reconnecting…');
    await new Promise((res) => setTimeout(res, RECONNECT_MS));
  }
}

// Splits the byte stream into SSE frames (blank-line separated) and hands each `overview` on.
async function readFrames(reader, signal) {
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done || signal.aborted) return;
    buf += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let event = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = val; else if (field === 'data') data.push(val);
      }
      if (event === 'overview' && data.length) {
        // A frame that does not parse is skipped: the next one comes a second later.
        try { onFrame(JSON.parse(data.join('\n'))); } catch { /* skipped */ }
      }
    }
  }
}

function onFrame(f) {
  frame = f;
  renderOverview();
  if (!current) return;
  const row = (f.queues || []).find((q) => q.name === current.name);
  if (!row) return;
  const pts = current.points;
  if (current.loaded && (!pts.length || row.t > pts[pts.length - 1].t)) {
    pts.push(row);
    while (pts.length && pts[0].t <= row.t - HISTORY_S) pts.shift();
  }
  renderQueueHead(row);
  renderCharts();
}

// ---- overview ---------------------------------------------------------------------------------
function cell(field, value, text, cls = 'num') {
  const raw = value === null || value === undefined ? '' : String(value);
  return el('td', { 'data-field': field, 'data-value': raw, class: cls, text: text });
}

function renderOverview() {
  if (!frame) return;
  const qs = frame.queues || [];
  const body = $('queues').tBodies[0];
  body.replaceChildren(...qs.map((q) => el('tr', { 'data-queue': q.name, 'data-state': q.state },
    el('td', {}, el('a', { href: `#/q/${encodeURIComponent(q.name)}`, text: q.name })),
    cell('state', q.state, q.state + (q.draw && q.draw !== 'none' ? ` (draw: ${q.draw})` : ''),
      'state'),
    cell('mode', q.mode, q.mode, ''),
    cell('waiting', q.waiting, num(q.waiting)),
    cell('active', q.active, `${num(q.active)} / ${num(q.max_active)}`),
    cell('admitted_per_s', q.admitted_per_s, `${num(q.admitted_per_s)} of ${num(q.admit_per_s)}`),
    cell('joins_per_s', q.joins_per_s, num(q.joins_per_s)),
    cell('oldest_wait_s', q.oldest_wait_s, duration(q.oldest_wait_s)),
    cell('streams', q.streams, num(q.streams)))));
  $('noqueues').hidden = qs.length > 0;
  $('queues').dataset.t = String(frame.t_ms || '');
  $('fleetmode').textContent = frame.mode ? `(${frame.mode})` : '';
  const ps = frame.processes || [];
  $('fleet').tBodies[0].replaceChildren(...ps.map((p) => el('tr', { 'data-node': p.node,
    class: p.stale ? 'stale' : null, 'data-stale': String(!!p.stale) },
    el('td', { text: p.node + (p.self ? ' (this one)' : '') }),
    cell('streams', p.streams, num(p.streams)),
    cell('connections', p.connections, num(p.connections)),
    cell('relay_lag_ms', p.relay_lag_ms,
      p.relay_lag_ms === null ? '—' : `${num(p.relay_lag_ms)} ms`),
    cell('outbox_backlog', p.outbox_backlog, num(p.outbox_backlog)),
    cell('consumer_lag', p.consumer_lag, num(p.consumer_lag)),
    cell('pubsub_reconnects', p.pubsub_reconnects, num(p.pubsub_reconnects)),
    cell('age_s', p.age_s,
      (p.stale ? 'STALE, ' : '') + `${duration(Math.round(p.age_s || 0))} ago`, ''))));
}

async function createQueue(ev) {
  ev.preventDefault();
  const name = $('create-name').value.trim();
  const body = {};
  if ($('create-rate').value !== '') body.admit_per_s = Number($('create-rate').value);
  if ($('create-max').value !== '') body.max_active = Number($('create-max').value);
  try {
    await api('PUT', qpath(name), body);
    const view = `#/q/${encodeURIComponent(name)}`;
    say(`queue ${name} created`, 'ok', view);
    $('create-name').value = '';
    location.hash = view;
  } catch (e) { failed(`creating ${name}`)(e); }
}

// ---- a queue's view ---------------------------------------------------------------------------
function route() {
  if (!token) { show('signin'); return; }
  if ($('status').dataset.view !== location.hash) $('status').hidden = true;
  const m = /^#\/q\/([^/]+)$/.exec(location.hash);
  if (!m) { current = null; show('overview'); renderOverview(); return; }
  let name;
  try { name = decodeURIComponent(m[1]); } catch { location.hash = '#/'; return; }
  openQueue(name);
}

async function openQueue(name) {
  current = { name, points: [], loaded: false, config: null, hooks: [] };
  const mine = current;
  show('queue');
  $('q-name').textContent = name;
  $('close-name').textContent = name;
  $('close-confirm').hidden = true;
  $('q-missing').hidden = true;
  $('draw-link').href = qpath(name, '/draw');
  renderCharts();
  try {
    const h = await api('GET', `/v1/admin/queues/${encodeURIComponent(name)}/history`);
    if (current !== mine) return;
    const pts = h.points || [];
    // Frames that came while the history was on its way are newer: keep them after it.
    const last = pts.length ? pts[pts.length - 1].t : -Infinity;
    mine.points = pts.concat(mine.points.filter((p) => p.t > last));
  } catch (e) {
    if (e.status !== 404) failed('the history')(e);  // 404: no sample yet, the stream fills it
  }
  mine.loaded = true;
  renderCharts();
  const row = frame && (frame.queues || []).find((q) => q.name === name);
  if (row) renderQueueHead(row);
  await Promise.all([loadConfig(), loadDead(), loadInvites()]);
}

function renderQueueHead(row) {
  const s = $('q-state');
  s.textContent = row.state;
  s.dataset.state = row.state;
}

// One chart per figure: a polyline over the window, min/max labels, the current value beside it.
function renderCharts() {
  const box = $('charts');
  if (!current) { box.replaceChildren(); return; }
  const pts = current.points;
  const W = 300, H = 80, L = 0;
  box.replaceChildren(...CHARTS.map(([field, title, unit]) => {
    // (An ETA of -1 means unknown: plotted at 0, shown as "unknown" beside the chart.)
    const vals = pts.map((p) => Math.max(0, Number(p[field]) || 0));
    const cur = pts.length ? pts[pts.length - 1][field] : null;
    const lo = vals.length ? Math.min(0, ...vals) : 0;
    let hi = vals.length ? Math.max(...vals) : 1;
    if (hi <= lo) hi = lo + 1;
    // The time axis spans the points there are (at least a minute, at most the 15 minutes), so
    // a queue sampled for a minute is not a sliver at the right edge.
    const tEnd = pts.length ? pts[pts.length - 1].t : 0;
    const span = pts.length ? Math.min(HISTORY_S, Math.max(60, tEnd - pts[0].t)) : HISTORY_S;
    const points = pts.map((p, i) => {
      const x = L + (W - L) * (1 - (tEnd - p.t) / span);
      const y = H - ((vals[i] - lo) / (hi - lo)) * H;
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    }).join(' ');
    const g = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', class: 'chart',
      role: 'img', 'aria-label': `${title}, last 15 minutes` });
    g.append(svg('line', { x1: 0, y1: H, x2: W, y2: H, class: 'axis' }),
      svg('line', { x1: 0, y1: 0, x2: 0, y2: H, class: 'axis' }),
      svg('polyline', { points, class: 'line', 'data-metric': field }));
    return el('figure', { 'data-metric': field, 'data-points': String(pts.length) },
      el('figcaption', {}, el('span', { text: title }),
        el('strong', { class: 'value', 'data-value': cur === null ? '' : String(cur),
          text: cur === null ? '—' : cur < 0 ? 'unknown' : num(cur) + unit })),
      el('div', { class: 'plot' },
        el('span', { class: 'max', text: num(hi) }),
        g,
        el('span', { class: 'min', text: num(lo) })),
      el('p', { class: 'axisx' },
        el('span', { text: `−${span >= 120 ? `${Math.round(span / 60)} min` : `${span} s`}` }),
        el('span', { text: 'now' })));
  }));
}

// ---- the config form --------------------------------------------------------------------------
const NUMBERS = ['admit_per_s', 'max_active', 'session_ttl_s', 'abandon_after_s'];
const TIMES = ['prequeue_at', 'opens_at', 'closes_at'];
const POW = ['bits', 'max_bits', 'network_share', 'surge_per_s', 'window_s', 'ttl_s'];

async function loadConfig() {
  const mine = current;
  let q;
  try { q = await api('GET', qpath(mine.name)); } catch (e) {
    if (e.status === 404) { $('q-missing').hidden = false; return; }
    return failed('the queue')(e);
  }
  if (current !== mine) return;
  mine.config = q.config;
  mine.closed = q.closed;
  const c = q.config;
  for (const k of NUMBERS) $(`f-${k}`).value = c[k];
  $('f-target_url').value = c.target_url || '';
  $('f-mode').value = c.mode || 'fifo';
  $('f-invite_only').checked = !!c.invite_only;
  for (const k of TIMES) $(`f-${k}`).value = toLocalInput(c[k]);
  $('f-message').value = c.message || '';
  const pow = c.pow && typeof c.pow === 'object' ? c.pow : { bits: 0 };
  $('f-pow-on').value = pow.bits > 0 ? 'on' : 'off';
  for (const k of POW) $(`f-pow-${k}`).value = pow[k] === undefined ? '' : pow[k];
  $('f-pow-adaptive').checked = !!pow.adaptive;
  mine.hooks = (c.webhooks || []).map((h) => ({ url: h.url, signed: !!h.signed }));
  renderHooks();
  $('pause').textContent = c.paused ? 'Resume admissions' : 'Pause admissions';
  $('pause').dataset.paused = String(!!c.paused);
  $('close').disabled = !!q.closed;
  $('save').textContent = q.closed ? 'Save and reopen' : 'Save changes';
  const d = q.draw || {};
  $('draw-state').textContent = d.state || 'none';
  $('draw-entrants').textContent = num(d.entrants);
  $('draw-commitment').textContent = d.commitment || '—';
  $('draw-at').textContent = d.drawn_at_ms ? new Date(d.drawn_at_ms).toLocaleString() : '—';
}

function renderHooks() {
  $('hooks').replaceChildren(...current.hooks.map((h, i) => el('div',
    { class: 'hook', 'data-index': String(i) },
    el('label', { class: 'wide' }, 'URL ',
      el('input', { class: 'hook-url', value: h.url || '', placeholder: 'https://…' })),
    el('label', {}, 'Secret ', el('input', { class: 'hook-secret', type: 'password',
      autocomplete: 'off', value: h.secret || '',
      placeholder: h.signed ? 'signed: type it again to save' : '(unsigned)' })),
    el('button', { type: 'button', class: 'quiet hook-remove', 'data-index': String(i),
      text: 'Remove' }))));
}

// The hooks as typed, and whether the list differs from the stored one.
function readHooks() {
  const rows = [...$('hooks').querySelectorAll('.hook')];
  const list = rows.map((r, i) => ({ url: r.querySelector('.hook-url').value.trim(),
    secret: r.querySelector('.hook-secret').value, signed: current.hooks[i].signed }));
  const stored = current.config.webhooks || [];
  const changed = list.length !== stored.length ||
    list.some((h, i) => h.url !== stored[i].url || h.secret !== '');
  return { list, changed };
}

function powFromForm() {
  if ($('f-pow-on').value === 'off') return false;
  const p = { adaptive: $('f-pow-adaptive').checked };
  for (const k of POW) { const v = $(`f-pow-${k}`).value; if (v !== '') p[k] = Number(v); }
  return p;
}

// The changed fields (one PUT), and a sentence for each.
function diffConfig() {
  const c = current.config;
  const body = {}, said = [];
  for (const k of NUMBERS) {
    const v = $(`f-${k}`).value;
    if (v === '' || Number(v) === c[k]) continue;
    body[k] = Number(v);
    said.push({ admit_per_s: `rate set to ${v}/s`, max_active: `max active set to ${v}`,
      session_ttl_s: `session TTL set to ${v} s`, abandon_after_s: `abandon after ${v} s` }[k]);
  }
  const target = $('f-target_url').value.trim();
  if (target !== (c.target_url || '')) {
    body.target_url = target;
    said.push(target ? `target set to ${target}` : 'target removed');
  }
  const mode = $('f-mode').value;
  if (mode !== c.mode) { body.mode = mode; said.push(`mode set to ${mode}`); }
  const invite = $('f-invite_only').checked;
  if (invite !== !!c.invite_only) {
    body.invite_only = invite;
    said.push(invite ? 'invite only' : 'open to all (no invite needed)');
  }
  for (const k of TIMES) {
    const v = fromLocalInput($(`f-${k}`).value);
    if (Number.isNaN(v)) throw new Error(`${k}: not a date and time`);
    if (v === (c[k] === undefined ? null : c[k])) continue;
    body[k] = v;
    said.push(v === null ? `${k} unset` : `${k} set to ${when(v)}`);
  }
  const msg = $('f-message').value;
  if (msg !== (c.message || '')) {
    body.message = msg;
    said.push(msg ? 'message set' : 'message cleared');
  }
  const pow = powFromForm();
  const had = c.pow && typeof c.pow === 'object' ? c.pow : { bits: 0 };
  const powChanged = pow === false ? had.bits > 0
    : had.bits <= 0 || Object.keys(pow).some((k) => pow[k] !== had[k]);
  if (powChanged) {
    body.pow = pow;
    said.push(pow === false ? 'proof of work off' : `proof of work on (${pow.bits ?? 18} bits)`);
  }
  const hooks = readHooks();
  if (hooks.changed) {
    const lost = hooks.list.filter((h) => h.signed && h.url && h.secret === '');
    if (lost.length) {
      throw new Error(`type the secret of ${lost[0].url} again: saving webhooks replaces ` +
        'the list and secrets are never shown');
    }
    body.webhooks = hooks.list.filter((h) => h.url)
      .map((h) => (h.secret ? { url: h.url, secret: h.secret } : { url: h.url }));
    said.push(`${body.webhooks.length} webhook${body.webhooks.length === 1 ? '' : 's'} saved`);
  }
  return { body, said };
}

async function saveConfig(ev) {
  ev.preventDefault();
  if (!current || !current.config) return;
  let d;
  try { d = diffConfig(); } catch (e) { say(e.message, 'error'); return; }
  if (!Object.keys(d.body).length && !current.closed) { say('nothing changed'); return; }
  try {
    await api('PUT', qpath(current.name), d.body);
    const reopened = current.closed;
    await loadConfig();
    say(`${current.name}: ${(reopened ? ['reopened'] : []).concat(d.said).join(', ')}`);
  } catch (e) { failed(`saving ${current.name}`)(e); }
}

async function togglePause() {
  const paused = $('pause').dataset.paused !== 'true';
  try {
    await api('PUT', qpath(current.name), { paused });
    await loadConfig();
    say(`${current.name}: admissions ${paused ? 'paused' : 'resumed'}`);
  } catch (e) { failed(paused ? 'pausing' : 'resuming')(e); }
}

async function closeQueue() {
  $('close-confirm').hidden = true;
  try {
    await api('DELETE', qpath(current.name));
    await loadConfig();
    say(`${current.name}: closed (everyone waiting was sent away)`);
  } catch (e) { failed('closing')(e); }
}

// ---- dead letters -----------------------------------------------------------------------------
async function loadDead() {
  const mine = current;
  let d;
  try {
    d = await api('GET', qpath(mine.name, '/webhooks/dead'));
  } catch (e) { return failed('dead letters')(e); }
  if (current !== mine) return;
  const rows = d.dead || [];
  $('dead').hidden = !rows.length;
  $('dead-none').hidden = rows.length > 0;
  $('redrive').disabled = !rows.length;
  $('dead').tBodies[0].replaceChildren(...rows.map((r) => el('tr', {},
    el('td', { text: r.id }), el('td', { text: r.type }), el('td', { text: r.url }),
    el('td', { class: 'num', text: num(r.attempts) }), el('td', { text: r.last_error || '' }))));
}

async function redrive() {
  try {
    const r = await api('POST', qpath(current.name, '/webhooks/dead/redrive'));
    await loadDead();
    say(`${current.name}: ${r.redriven} dead letter${r.redriven === 1 ? '' : 's'} sent again`);
  } catch (e) { failed('redrive')(e); }
}

// ---- invites ----------------------------------------------------------------------------------
async function loadInvites() {
  const mine = current;
  let r;
  try {
    r = await api('GET', qpath(mine.name, '/invites?limit=100'));
  } catch (e) { return failed('invites')(e); }
  if (current !== mine) return;
  $('invites-more').hidden = !r.next;
  $('invites').tBodies[0].replaceChildren(...(r.invites || []).map((v) => el('tr',
    { 'data-code': v.code, class: v.revoked ? 'revoked' : null },
    el('td', {}, el('code', { text: v.code })), el('td', { class: 'num', text: num(v.used) }),
    el('td', { class: 'num', text: num(v.uses) }), el('td', { text: v.skip ? 'skips' : '' }),
    el('td', { text: v.expires_at === null ? 'never' : when(v.expires_at) }),
    el('td', { text: v.label || '' }),
    el('td', {}, v.revoked ? 'revoked' : el('button',
      { type: 'button', class: 'quiet revoke', 'data-code': v.code, text: 'Revoke' })))));
}

async function mint(ev) {
  ev.preventDefault();
  const body = { count: Number($('m-count').value || 1), uses: Number($('m-uses').value || 1),
    skip: $('m-skip').checked, label: $('m-label').value };
  const exp = fromLocalInput($('m-expires').value);
  if (Number.isNaN(exp)) { say('expires: not a date and time', 'error'); return; }
  if (exp !== null) body.expires_at = exp;
  try {
    const r = await api('POST', qpath(current.name, '/invites'), body);
    const codes = (r.invites || []).map((v) => v.code);
    await loadInvites();
    const shown = codes.slice(0, 5).join(' ') + (codes.length > 5 ? ' …' : '');
    say(`${codes.length} code${codes.length === 1 ? '' : 's'} minted: ${shown}`);
  } catch (e) { failed('minting')(e); }
}

async function revoke(code) {
  try {
    await api('DELETE', qpath(current.name, `/invites/${encodeURIComponent(code)}`));
    await loadInvites();
    say(`code ${code} revoked`);
  } catch (e) { failed(`revoking ${code}`)(e); }
}

// ---- wiring -----------------------------------------------------------------------------------
document.addEventListener('DOMContentLoaded', () => {
  $('signin-form').addEventListener('submit', signIn);
  $('signout').addEventListener('click', () => signOut(''));
  $('create-form').addEventListener('submit', createQueue);
  $('config-form').addEventListener('submit', saveConfig);
  $('pause').addEventListener('click', togglePause);
  $('close').addEventListener('click', () => {
    $('close-confirm').hidden = false;
    $('close-yes').focus();
  });
  $('close-no').addEventListener('click', () => { $('close-confirm').hidden = true; });
  $('close-yes').addEventListener('click', closeQueue);
  $('redrive').addEventListener('click', redrive);
  $('mint-form').addEventListener('submit', mint);
  // The rows are redrawn from current.hooks: what was typed is copied there first.
  const keepTyped = () => readHooks().list.forEach((h, i) =>
    Object.assign(current.hooks[i], { url: h.url, secret: h.secret }));
  $('hook-add').addEventListener('click', () => {
    keepTyped();
    current.hooks.push({ url: '', signed: false });
    renderHooks();
  });
  $('hooks').addEventListener('click', (ev) => {
    const b = ev.target.closest('.hook-remove');
    if (!b) return;
    keepTyped();
    current.hooks.splice(Number(b.dataset.index), 1);
    renderHooks();
  });
  $('invites').addEventListener('click', (ev) => {
    const b = ev.target.closest('.revoke');
    if (b) revoke(b.dataset.code);
  });
  window.addEventListener('hashchange', route);
  show('signin');
  $('token').focus();
});
