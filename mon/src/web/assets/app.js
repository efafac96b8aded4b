// MON console: a small front end over the console's JSON API (no framework, no CDN).
// Every text from the fleet goes in with textContent or an SVG text node, never as HTML.
'use strict';

const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';

function svgEl(tag, attrs, parent) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}

function el(tag, text, parent, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  if (parent) parent.appendChild(e);
  return e;
}

// The page key: /login redirects to /#k=KEY. It moves into this origin's sessionStorage
// (an origin is scheme, host AND port: a server on another port cannot read it), leaves the
// address bar and the history, and goes with every API call beside the cookie.
const KEY = 'mon-console-key';
(function takeKey() {
  const m = location.hash.match(/^#k=([0-9a-f]+)$/);
  if (m) {
    sessionStorage.setItem(KEY, m[1]);
    history.replaceState(null, '', location.pathname + location.search);
  }
})();

async function api(path, body) {
  const headers = { 'X-Mon-Console': sessionStorage.getItem(KEY) || '' };
  const init = body === undefined ? { headers } : {
    method: 'POST',
    headers: Object.assign(headers, { 'Content-Type': 'application/json' }),
    body: JSON.stringify(body),
  };
  init.credentials = 'same-origin';
  const r = await fetch(path, init);
  let v = null;
  try { v = await r.json(); } catch (e) { v = { error: 'HTTP ' + r.status }; }
  if (!r.ok) {
    let msg = (v && v.error) || ('HTTP ' + r.status);
    if (v && v.denied) msg += ': ' + v.denied.denied_by + ' [' + v.denied.code + '] ' + v.denied.reason;
    throw new Error(msg);
  }
  return v;
}

function status(id, text, bad) {
  const e = $(id);
  e.textContent = text;
  e.className = bad ? 'error' : 'muted';
}

function coverage(a) {
  return 'answered ' + a.answered + ' / missing ' + a.missing + ' / denied ' + a.denied +
    (a.failed ? ' / failed ' + a.failed : '') + ' · set-up ' + a.session_ms + ' ms · query ' +
    a.query_ms + ' ms (entry ' + a.entry + ')';
}

// ---- pages ----
const pages = ['fleet', 'query', 'topology', 'exec', 'push', 'audit'];
let fleetTimer = null;

function show() {
  const name = pages.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'fleet';
  for (const p of pages) {
    $('page-' + p).classList.toggle('shown', p === name);
    $('nav-' + p).classList.toggle('active', p === name);
  }
  clearInterval(fleetTimer);
  if (name === 'fleet') { loadFleet(); fleetTimer = setInterval(loadFleet, 10000); }
}

// ---- fleet ----
let rtts = {};

async function loadMembers() {
  const v = await api('/api/members');
  const m = v.answers[0];
  const tb = $('members').querySelector('tbody');
  tb.replaceChildren();
  rtts = {};
  const list = m.result.slice().sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  for (const x of list) {
    rtts[x.name] = x.rtt_ms;
    const tr = el('tr', null, tb);
    el('td', x.name, tr);
    el('td', x.addr, tr);
    el('td', (x.age_ms / 1000).toFixed(1) + ' s', tr, 'num');
    el('td', x.rtt_ms == null ? '-' : x.rtt_ms.toFixed(1) + ' ms', tr, 'num');
  }
  return m;
}

async function loadFleet() {
  try {
    const c = (await api('/api/query', { words: ['count'] })).answers[0];
    $('fleet-count').textContent = c.result;
    $('fleet-missing').textContent = c.missing;
    $('fleet-denied').textContent = c.denied;
    const d = (await api('/api/query', { words: ['depth'] })).answers[0];
    $('fleet-depth').textContent = d.result;
    const m = await loadMembers();
    status('fleet-status', coverage(c) + ' · ' + m.result.length + ' members in ' + m.entry +
      "'s view · " + new Date().toLocaleTimeString());
  } catch (e) {
    status('fleet-status', e.message, true);
  }
}

// ---- charts ----
function fmt(x) {
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toPrecision(3);
}

// Vertical bars: items [{label, value}], each bar carries data-count.
function barChart(items, title) {
  const W = 640, H = 260, pad = 40;
  const svg = svgEl('svg', { width: W, height: H + 60, id: 'chart', role: 'img' });
  svgEl('text', { x: pad, y: 14 }, svg).textContent = title;
  const max = Math.max(1, ...items.map((i) => i.value));
  const bw = (W - pad * 2) / Math.max(1, items.length);
  svgEl('line', { x1: pad, y1: H, x2: W - pad, y2: H, class: 'axis' }, svg);
  items.forEach((it, k) => {
    const h = (it.value / max) * (H - 40);
    const r = svgEl('rect', {
      x: pad + k * bw + 2, y: H - h, width: Math.max(1, bw - 4), height: h,
      class: 'bar', 'data-count': it.value,
    }, svg);
    svgEl('title', {}, r).textContent = it.label + ': ' + it.value;
    svgEl('text', { x: pad + k * bw + bw / 2, y: H - h - 4, 'text-anchor': 'middle' }, svg).textContent = fmt(it.value);
    const t = svgEl('text', {
      x: pad + k * bw + bw / 2, y: H + 14, 'text-anchor': 'end',
      transform: 'rotate(-35 ' + (pad + k * bw + bw / 2) + ' ' + (H + 14) + ')',
    }, svg);
    t.textContent = it.label;
  });
  return svg;
}

// A time series of one query's numeric answers.
const series = { key: '', points: [] };

function seriesChart(title) {
  const W = 640, H = 160, pad = 40;
  const svg = svgEl('svg', { width: W, height: H + 20, id: 'series' });
  svgEl('text', { x: pad, y: 14 }, svg).textContent = title + ' over time (' + series.points.length + ' runs)';
  const vals = series.points.map((p) => p.v);
  const lo = Math.min(...vals), hi = Math.max(...vals);
  const span = hi - lo || 1;
  const n = Math.max(1, series.points.length - 1);
  const pts = series.points.map((p, k) =>
    (pad + (k / n) * (W - 2 * pad)).toFixed(1) + ',' + (H - ((p.v - lo) / span) * (H - 40)).toFixed(1));
  svgEl('polyline', { points: pts.join(' '), class: 'line' }, svg);
  svgEl('text', { x: 2, y: H }, svg).textContent = fmt(lo);
  svgEl('text', { x: 2, y: 40 }, svg).textContent = fmt(hi);
  return svg;
}

// ---- query builder ----
function queryWords() {
  const op = $('q-op').value, res = $('q-res').value.trim();
  switch (op) {
    case 'histo': return ['histo', res];
    case 'top': return ['top', $('q-n').value, res];
    case 'avg': return ['avg', res];
    case 'filter': return ['filter', res, $('q-cmp').value, $('q-value').value.trim()];
    case 'grep': return ['filter', 'grep', $('q-value').value.trim(), $('q-file').value.trim()];
    default: return ['count'];
  }
}

function queryFields() {
  const op = $('q-op').value;
  const on = {
    'q-n': op === 'top', 'q-res': ['histo', 'top', 'avg', 'filter'].includes(op),
    'q-cmp': op === 'filter', 'q-value': op === 'filter' || op === 'grep', 'q-file': op === 'grep',
  };
  for (const [id, v] of Object.entries(on)) $(id).classList.toggle('hidden', !v);
  $('q-words').textContent = 'mon ' + queryWords().join(' ');
}

let repeatTimer = null;

async function runQuery() {
  const words = queryWords();
  status('q-status', 'running mon ' + words.join(' ') + ' …');
  try {
    const a = (await api('/api/query', { words })).answers[0];
    const chart = $('q-chart');
    chart.replaceChildren();
    $('q-out').textContent = '';
    const r = a.result;
    if (a.command === 'histo') {
      chart.appendChild(barChart(r.map((b) => ({ label: fmt(b.lo) + '–' + fmt(b.hi), value: b.count })),
        'histo ' + words[1] + ' (nodes per bucket)'));
    } else if (a.command === 'top') {
      chart.appendChild(barChart(r.map((x) => ({ label: x.node, value: x.value })), 'top ' + words[2]));
    } else if (Array.isArray(r)) {
      $('q-out').textContent = r.length ? r.join('\n') : '(no node matched)';
    } else {
      $('q-out').textContent = r === null ? 'no value' : String(r);
    }
    const key = words.join(' ');
    if (series.key !== key) { series.key = key; series.points = []; }
    if (typeof r === 'number') {
      series.points.push({ t: Date.now(), v: r });
      series.points = series.points.slice(-120);
    }
    $('q-series').replaceChildren();
    if (series.points.length > 1) $('q-series').appendChild(seriesChart(key));
    status('q-status', coverage(a), a.missing + a.denied + a.failed > 0);
  } catch (e) {
    status('q-status', e.message, true);
  }
}

// ---- topology ----
async function runTopology() {
  status('topo-status', 'building an overlay …');
  try {
    const a = (await api('/api/query', { words: ['topology'] })).answers[0];
    try { await loadMembers(); } catch (e) { /* RTTs are optional */ }
    drawTopology(a.result);
    status('topo-status', coverage(a));
  } catch (e) {
    status('topo-status', e.message, true);
  }
}

function drawTopology(edges) {
  const parents = {}, children = {};
  for (const [p, c] of edges) {
    (parents[c] = parents[c] || []).push(p);
    (children[p] = children[p] || []).push(c);
  }
  // Levels from the client: breadth first.
  const level = { '@client': 0 };
  const order = [['@client']];
  let frontier = ['@client'];
  while (frontier.length) {
    const next = [];
    for (const n of frontier) {
      for (const c of (children[n] || []).slice().sort()) {
        if (!(c in level)) { level[c] = level[n] + 1; next.push(c); }
      }
    }
    if (next.length) order.push(next);
    frontier = next;
  }
  const W = 900, rowH = 90;
  const H = rowH * order.length + 20;
  const pos = {};
  order.forEach((row, d) => row.forEach((n, k) => {
    pos[n] = { x: ((k + 0.5) / row.length) * W, y: 30 + d * rowH };
  }));
  const svg = svgEl('svg', { width: W, height: H, id: 'topo-svg' });
  const edgeEls = [];
  for (const [p, c] of edges) {
    if (!pos[p] || !pos[c]) continue;
    const l = svgEl('line', { x1: pos[p].x, y1: pos[p].y, x2: pos[c].x, y2: pos[c].y, class: 'edge' }, svg);
    edgeEls.push({ p, c, l });
  }
  for (const n of Object.keys(pos)) {
    if (n === '@client') {
      svgEl('text', { x: pos[n].x, y: pos[n].y, 'text-anchor': 'middle' }, svg).textContent = 'you';
      continue;
    }
    const entry = (parents[n] || []).includes('@client');
    const circle = svgEl('circle', { cx: pos[n].x, cy: pos[n].y, r: 9, class: entry ? 'node entry' : 'node', 'data-name': n }, svg);
    svgEl('text', { x: pos[n].x, y: pos[n].y + 22, 'text-anchor': 'middle' }, svg).textContent = n;
    circle.addEventListener('mouseenter', () => {
      circle.classList.add('hot');
      for (const e of edgeEls) if (e.p === n || e.c === n) e.l.classList.add('hot');
      const info = $('topo-info');
      info.replaceChildren();
      el('h3', n, info);
      el('div', 'parent: ' + (parents[n] || []).join(', ').replace('@client', 'you (entry node)'), info);
      el('div', 'children: ' + ((children[n] || []).join(', ') || 'none'), info);
      const rtt = rtts[n];
      el('div', 'RTT from the entry: ' + (rtt == null ? 'unknown' : rtt.toFixed(1) + ' ms'), info);
      el('div', 'depth: ' + level[n], info);
    });
    circle.addEventListener('mouseleave', () => {
      circle.classList.remove('hot');
      for (const e of edgeEls) e.l.classList.remove('hot');
    });
  }
  $('topo').replaceChildren(svg);
}

// ---- exec ----
async function runExec() {
  const argv = $('x-cmd').value.trim().split(/\s+/).filter((w) => w);
  status('x-status', 'running …');
  $('x-out').replaceChildren();
  try {
    const v = await api('/api/exec', { argv, shell: $('x-shell').checked });
    const a = v.answers[0];
    for (const g of a.result) {
      const d = el('details', null, $('x-out'));
      const what = g.timed_out ? 'timed out' : g.signal != null ? 'signal ' + g.signal : 'exit ' + g.exit;
      el('summary', g.nodes.length + ' node(s), ' + what + ': ' + g.nodes.join(','), d);
      if (g.stdout) el('pre', g.stdout, d);
      if (g.stderr) el('pre', g.stderr, d, 'error');
    }
    status('x-status', coverage(a), v.code !== 0);
  } catch (e) {
    status('x-status', e.message, true);
  }
}

// ---- audit (mon audit fleet) ----
function countTable(title, keys, other) {
  const t = el('table', null, null, 'counts');
  const hr = el('tr', null, el('thead', null, t));
  el('th', title, hr);
  el('th', 'count', hr, 'num');
  const tb = el('tbody', null, t);
  for (const k of keys) {
    const tr = el('tr', null, tb);
    el('td', k.key, tr);
    el('td', k.count, tr, 'num');
  }
  if (other > 0) {
    const tr = el('tr', null, tb);
    el('td', '(other)', tr);
    el('td', other, tr, 'num');
  }
  return t;
}

async function runAudit() {
  status('a-status', 'asking every node …');
  const body = {
    since: $('a-since').value, event: $('a-event').value, principal: $('a-principal').value,
    denied: $('a-denied').checked, limit: Number($('a-limit').value) || 20,
  };
  try {
    const v = await api('/api/audit', body);
    const a = v.answers[0];
    const r = a.result;
    const chains = $('a-chains');
    chains.replaceChildren();
    el('span', r.matched + ' matching records · chain verified on ' + r.chain_verified_nodes + ' node(s)', chains);
    if (r.chain_failed_nodes > 0) {
      el('span', ' · NOT VERIFIED on ' + r.chain_failed_nodes + ': ' +
        r.chain_failed.map((f) => f.node + ' (' + f.reason + ')').join(', '), chains, 'error');
    }
    $('a-counts').replaceChildren(
      countTable('event', r.by_event, r.by_event_other),
      countTable('principal', r.by_principal, r.by_principal_other),
      countTable('node', r.by_node, r.by_node_other));
    const tb = $('a-records').querySelector('tbody');
    tb.replaceChildren();
    for (const x of r.records) {
      const tr = el('tr', null, tb, x.chain_verified ? '' : 'error');
      el('td', x.ts, tr);
      el('td', x.node, tr);
      el('td', x.event, tr);
      el('td', x.result || '-', tr);
      el('td', x.principal || '-', tr);
      el('td', x.op ? [x.op].concat(x.argv).join(' ') : (x.reason || ''), tr);
      el('td', x.chain_verified ? 'verified' : 'NOT verified', tr);
    }
    status('a-status', coverage(a), v.code !== 0);
  } catch (e) {
    status('a-status', e.message, true);
  }
}

// ---- push ----
function fileBase64(f) {
  return new Promise((ok, bad) => {
    const r = new FileReader();
    r.onload = () => ok(String(r.result).split(',')[1] || '');
    r.onerror = () => bad(r.error);
    r.readAsDataURL(f);
  });
}

function bytes(n) {
  const u = ['B', 'KiB', 'MiB', 'GiB'];
  let k = 0;
  while (n >= 1024 && k < u.length - 1) { n /= 1024; k++; }
  return (k ? n.toFixed(1) : String(n)) + ' ' + u[k];
}

let pushTimer = null;

async function runPush() {
  clearTimeout(pushTimer);
  const body = { dest: $('p-dest').value.trim(), mode: $('p-mode').value.trim() || '0644' };
  const f = $('p-upload').files[0];
  $('p-nodes').querySelector('tbody').replaceChildren();
  $('p-bar').value = 0;
  try {
    if (f) {
      status('p-status', 'reading ' + f.name + ' …');
      body.upload = { name: f.name, base64: await fileBase64(f) };
    } else {
      body.path = $('p-path').value.trim();
    }
    status('p-status', 'starting …');
    const { job } = await api('/api/push', body);
    await pollPush(job);
  } catch (e) {
    status('p-status', e.message, true);
  }
}

async function pollPush(id) {
  try {
    const j = await api('/api/push/' + id);
    drawPush(j);
    if (j.state === 'starting' || j.state === 'running') {
      pushTimer = setTimeout(() => pollPush(id), 500);
    }
  } catch (e) {
    status('p-status', e.message, true);
  }
}

function drawPush(j) {
  $('p-bar').max = Math.max(1, j.size);
  $('p-bar').value = Math.min(j.served, j.size);
  const tb = $('p-nodes').querySelector('tbody');
  tb.replaceChildren();
  const nodes = j.nodes.slice().sort((a, b) => a.node.localeCompare(b.node, undefined, { numeric: true }));
  for (const n of nodes) {
    const tr = el('tr', null, tb, 'push-' + n.state);
    tr.dataset.state = n.state;
    el('td', n.node, tr);
    el('td', n.state, tr);
    el('td', n.reason || '', tr);
    el('td', n.at === undefined ? '' : n.at.toFixed(1) + ' s', tr);
  }
  const what = j.file + ' (' + bytes(j.size) + ') to ' + j.dest + ': ';
  if (j.state === 'starting') {
    status('p-status', what + 'hashing the file …');
  } else if (j.state === 'running') {
    status('p-status', what + j.complete + '/' + j.total + ' nodes finished · served ' + bytes(j.served));
  } else if (j.state === 'finished') {
    status('p-status', what + j.done + '/' + j.total + ' nodes done in ' + j.seconds.toFixed(1) +
      ' s · served ' + bytes(j.served), j.failing > 0);
  } else {
    status('p-status', what + j.state + ': ' + (j.error || ''), true);
  }
}

// ---- wiring ----
document.addEventListener('DOMContentLoaded', async () => {
  window.addEventListener('hashchange', show);
  $('q-op').addEventListener('change', queryFields);
  for (const id of ['q-n', 'q-res', 'q-cmp', 'q-value', 'q-file']) $(id).addEventListener('input', queryFields);
  $('q-form').addEventListener('submit', (ev) => { ev.preventDefault(); runQuery(); });
  $('q-repeat').addEventListener('change', () => {
    clearInterval(repeatTimer);
    if ($('q-repeat').checked) repeatTimer = setInterval(runQuery, 5000);
  });
  $('topo-run').addEventListener('click', runTopology);
  $('x-form').addEventListener('submit', (ev) => { ev.preventDefault(); runExec(); });
  $('p-form').addEventListener('submit', (ev) => { ev.preventDefault(); runPush(); });
  $('a-form').addEventListener('submit', (ev) => { ev.preventDefault(); runAudit(); });
  queryFields();
  show();
  try {
    const i = await api('/api/info');
    $('who').textContent = 'entry ' + i.entry + ' · key ' + i.key + ' · allowed: ' + (i.allow.join(', ') || 'queries only');
  } catch (e) {
    $('who').textContent = e.message;
  }
});
