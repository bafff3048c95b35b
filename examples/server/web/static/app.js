// The metaflow example server's page. Plain JavaScript, no dependencies:
// everything comes from the server's JSON query API (package query).
'use strict';

const SVGNS = 'http://www.w3.org/2000/svg';
const PAGE = 100; // rows per API page of a search
const $ = (sel) => document.querySelector(sel);

// ---------------------------------------------------------------- helpers

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function fmt(n, digits) {
  if (n === undefined || n === null || Number.isNaN(n)) return '';
  return Number(n).toLocaleString('en-US', { maximumFractionDigits: digits === undefined ? 2 : digits });
}

function ms(us) { return fmt(us / 1000, 3); }

// Times are unix nanoseconds; as JSON numbers they keep about 0.3 µs.
function isoTime(ns) {
  if (typeof ns !== 'number') return '';
  return new Date(ns / 1e6).toISOString().replace('T', ' ').replace('Z', '');
}

function truncate(s, n) { return s.length > n ? s.slice(0, n - 1) + '…' : s; }

const STATUS = ['Ok', 'ClientError', 'ServerError', 'Timeout', 'Unknown', 'ParseFailed'];
const IPPROTO = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6' };

function isIP(s) { return /^[0-9.]+$/.test(s) && s.split('.').length === 4 || (s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s)); }

// nodeName names one side of a record as the service map does: its
// service, else its pod, else its address.
function nodeName(row, side) {
  return row['service_' + side] || row['pod_' + side] || row['ip_' + side] || '';
}

// ---------------------------------------------------------------- API

const state = {
  token: '',
  table: 'l7',
  redGroup: 'service',
  selection: null, // {kind, label, queries: [{params, owns(row)}]}
  search: null, // the loaded search: {queries: [{params, owns, cursor, done}], rows}
  edges: [],
  hasTrace: false,
  hasMetrics: false,
  metricsSeq: 0,
  tokenWaiters: [],
};

class APIError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function setStatus(msg, isError) {
  const s = $('#status');
  s.textContent = msg;
  s.classList.toggle('error', !!isError);
}

async function api(path, params) {
  const u = new URL(path, location.href);
  for (const [k, v] of Object.entries(params || {})) u.searchParams.set(k, v);
  const headers = {};
  if (state.token) headers.Authorization = 'Bearer ' + state.token;
  const r = await fetch(u, { headers });
  if (r.status === 401) {
    askToken();
    throw new APIError(401, 'the server wants a query token');
  }
  if (!r.ok) throw new APIError(r.status, (await r.text()).trim() || r.statusText);
  return JSON.parse(await r.text(), keepExact);
}

// keepExact keeps the source text of integers beyond 2^53 (nanosecond
// times, ids) in a hidden "exact" property of their object, where the
// browser can give it (JSON.parse source text access); the number stays
// for arithmetic.
function keepExact(key, value, context) {
  if (typeof value === 'number' && !Number.isSafeInteger(value) && context && typeof context.source === 'string') {
    if (!Object.prototype.hasOwnProperty.call(this, 'exact')) {
      Object.defineProperty(this, 'exact', { value: {}, enumerable: false });
    }
    this.exact[key] = context.source;
  }
  return value;
}

function readToken() {
  const h = new URLSearchParams(location.hash.slice(1));
  const t = h.get('token');
  if (t) {
    sessionStorage.setItem('metaflow.token', t);
    history.replaceState(null, '', location.pathname + location.search); // keep it out of the history
  }
  state.token = sessionStorage.getItem('metaflow.token') || '';
}

function askToken() {
  const d = $('#token-dialog');
  if (!d.open) d.showModal();
}

function rangeParams() {
  const v = $('#range').value;
  if (v === 'all') return {};
  const now = Date.now();
  return { from: new Date(now - Number(v) * 1000).toISOString(), to: new Date(now + 1000).toISOString() };
}

// ---------------------------------------------------------------- service map

// layout assigns each node a column: the longest chain of calls that leads
// to it (bounded, so that cycles end), and orders each column by the mean
// row of its callers to keep edges short.
function layout(nodes, edges) {
  const layer = new Map(nodes.map((n) => [n, 0]));
  const n = nodes.length;
  for (let i = 0; i < n; i++) {
    let changed = false;
    for (const e of edges) {
      if (e.client === e.server) continue;
      const want = layer.get(e.client) + 1;
      if (want < n && layer.get(e.server) < want) { layer.set(e.server, want); changed = true; }
    }
    if (!changed) break;
  }
  const cols = [];
  for (const node of nodes) {
    const l = layer.get(node);
    (cols[l] = cols[l] || []).push(node);
  }
  const row = new Map();
  cols.forEach((col, ci) => {
    if (ci === 0) {
      col.sort();
    } else {
      const key = (node) => {
        const rs = edges.filter((e) => e.server === node && row.has(e.client)).map((e) => row.get(e.client));
        return rs.length ? rs.reduce((a, b) => a + b, 0) / rs.length : 1e9;
      };
      const keys = new Map(col.map((node) => [node, key(node)]));
      col.sort((a, b) => keys.get(a) - keys.get(b) || a.localeCompare(b));
    }
    col.forEach((node, i) => row.set(node, i));
  });
  return { layer, row, cols };
}

function drawMap(edges) {
  const map = $('#map');
  map.replaceChildren();
  const nodes = [...new Set(edges.flatMap((e) => [e.client, e.server]))];
  if (nodes.length === 0) {
    map.setAttribute('width', 400);
    map.setAttribute('height', 40);
    map.append(svg('text', { x: 10, y: 25 }, 'No requests in this time range.'));
    return;
  }
  const { layer, row, cols } = layout(nodes, edges);
  const W = 200, H = 30, GX = 150, GY = 26, X0 = 20, Y0 = 30;
  const pos = new Map();
  for (const node of nodes) {
    pos.set(node, { x: X0 + layer.get(node) * (W + GX), y: Y0 + row.get(node) * (H + GY) });
  }
  const rows = Math.max(...cols.map((c) => c.length));
  const width = X0 * 2 + cols.length * W + (cols.length - 1) * GX;
  const height = Y0 + rows * (H + GY) + 60;
  map.setAttribute('width', width);
  map.setAttribute('height', height);
  map.setAttribute('viewBox', `0 0 ${width} ${height}`);
  map.append(svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerUnits: 'userSpaceOnUse', markerWidth: 9, markerHeight: 9, orient: 'auto-start-reverse' },
    svg('path', { d: 'M0,0 L10,5 L0,10 z' }))));

  const maxReq = Math.max(...edges.map((e) => e.requests), 1);
  const servers = new Set(edges.map((e) => e.server));
  const pairCount = new Map();
  // Edges leave and enter a node at points spread along its side, in the
  // order of the rows at their other ends, so that they do not coincide.
  const spread = (key, other) => {
    const m = new Map();
    for (const e of edges) {
      if (e.client === e.server) continue;
      const k = key(e);
      (m.get(k) || m.set(k, []).get(k)).push(e);
    }
    const at = new Map();
    for (const list of m.values()) {
      list.sort((a, b) => pos.get(other(a)).y - pos.get(other(b)).y);
      list.forEach((e, i) => at.set(e, (i + 1) / (list.length + 1)));
    }
    return at;
  };
  const outAt = spread((e) => e.client, (e) => e.server);
  const inAt = spread((e) => e.server, (e) => e.client);
  const edgeLayer = svg('g', { class: 'edges' });
  const labelLayer = svg('g', { class: 'edge-labels' });
  for (const e of edges) {
    const pk = e.client + '\u0000' + e.server;
    const k = pairCount.get(pk) || 0;
    pairCount.set(pk, k + 1);
    const a = pos.get(e.client), b = pos.get(e.server);
    const off = (k % 2 ? 1 : -1) * Math.ceil(k / 2) * 7;
    let d, lx, ly;
    if (e.client === e.server) {
      const x = a.x + W / 2, y = a.y;
      d = `M${x - 18},${y} C${x - 30},${y - 40 - off} ${x + 30},${y - 40 - off} ${x + 18},${y}`;
      lx = x; ly = y - 34 - off;
    } else if (layer.get(e.server) > layer.get(e.client)) {
      const x1 = a.x + W, y1 = a.y + H * outAt.get(e), x2 = b.x, y2 = b.y + H * inAt.get(e);
      const mx = (x1 + x2) / 2;
      d = `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`;
      // The label sits on the curve near the server (t = 0.8): edges fan
      // out of busy clients, so their middles crowd.
      const t = 0.8, u = 1 - t;
      lx = u * u * u * x1 + 3 * u * u * t * mx + 3 * u * t * t * mx + t * t * t * x2;
      ly = u * u * u * y1 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t * t * t * y2 - 4;
    } else { // same column or backwards: around below
      const x1 = a.x + W / 2 + off, y1 = a.y + H, x2 = b.x + W / 2 + off, y2 = b.y + H;
      const dip = Math.max(y1, y2) + 30 + Math.abs(x1 - x2) / 8;
      d = `M${x1},${y1} C${x1},${dip} ${x2},${dip} ${x2},${y2}`;
      lx = (x1 + x2) / 2; ly = dip - 18;
    }
    const w = 1 + 3 * Math.log1p(e.requests) / Math.log1p(maxReq);
    const title = `${e.client} → ${e.server} (${e.l7_protocol})\n${fmt(e.requests, 0)} requests, ${fmt(e.errors, 0)} errors\navg ${ms(e.avg_latency_us)} ms, max ${ms(e.max_latency_us)} ms`;
    const g = svg('g', {
      class: 'edge' + (e.errors > 0 ? ' has-errors' : ''), 'data-client': e.client, 'data-server': e.server,
      'data-protocol': e.l7_protocol, 'data-requests': e.requests, 'data-errors': e.errors,
    },
    svg('title', {}, title),
    svg('path', { d, 'stroke-width': w.toFixed(2), 'marker-end': 'url(#arrow)' }),
    svg('path', { d, class: 'hit' }));
    g.addEventListener('click', () => selectEdge(e));
    edgeLayer.append(g);
    const label = svg('g', { class: 'edge', 'data-client': e.client, 'data-server': e.server, 'data-protocol': e.l7_protocol },
      svg('text', { x: lx, y: ly, 'text-anchor': 'middle' }, `${e.l7_protocol} ${fmt(e.requests, 0)}` + (e.errors ? ` (${fmt(e.errors, 0)} err)` : '')));
    label.addEventListener('click', () => selectEdge(e));
    labelLayer.append(label);
  }
  map.append(edgeLayer);
  const nodeLayer = svg('g', { class: 'nodes' });
  for (const node of nodes) {
    const p = pos.get(node);
    const g = svg('g', { class: 'node' + (servers.has(node) ? '' : ' client-only'), 'data-node': node, transform: `translate(${p.x},${p.y})` },
      svg('title', {}, node),
      svg('rect', { width: W, height: H, rx: 5 }),
      svg('text', { x: W / 2, y: H / 2 + 4, 'text-anchor': 'middle' }, truncate(node, 30)));
    g.addEventListener('click', () => selectNode(node));
    nodeLayer.append(g);
  }
  map.append(nodeLayer);
  map.append(labelLayer);
  markSelection();
}

function markSelection() {
  const s = state.selection;
  for (const g of document.querySelectorAll('#map .node')) {
    g.classList.toggle('selected', !!s && s.kind === 'node' && s.node === g.dataset.node);
  }
  for (const g of document.querySelectorAll('#map .edge')) {
    g.classList.toggle('selected', !!s && s.kind === 'edge' && s.edge.client === g.dataset.client &&
      s.edge.server === g.dataset.server && s.edge.l7_protocol === g.dataset.protocol);
  }
}

async function loadMap() {
  const d = await api('/api/v1/servicemap', rangeParams());
  state.edges = d.edges || [];
  drawMap(state.edges);
}

// ---------------------------------------------------------------- selection

// A map node is named by its service, else pod, else address, so the rows
// of a node come from one query per naming tag; owns keeps each row in
// exactly the query that names it, so no row is counted twice.
const KINDS = ['service', 'pod', 'ip'];

function kindOwns(kind, row, side, name) {
  switch (kind) {
    case 'service': return row['service_' + side] === name;
    case 'pod': return !row['service_' + side] && row['pod_' + side] === name;
    default: return !row['service_' + side] && !row['pod_' + side] && row['ip_' + side] === name;
  }
}

function kindsOf(name) { return isIP(name) ? KINDS : KINDS.slice(0, 2); }

function selectNode(name) {
  const queries = [];
  for (const k of kindsOf(name)) {
    queries.push({ params: { [k + '_0']: name }, owns: (r) => kindOwns(k, r, 0, name) });
    queries.push({ params: { [k + '_1']: name }, owns: (r) => kindOwns(k, r, 1, name) && nodeName(r, 0) !== name });
  }
  setSelection({ kind: 'node', node: name, service: name, label: `node ${name} (as client or server)`, queries });
}

function selectEdge(e) {
  const queries = [];
  for (const k0 of kindsOf(e.client)) {
    for (const k1 of kindsOf(e.server)) {
      queries.push({
        params: { [k0 + '_0']: e.client, [k1 + '_1']: e.server, l7_protocol: e.l7_protocol },
        owns: (r) => kindOwns(k0, r, 0, e.client) && kindOwns(k1, r, 1, e.server) && r.l7_protocol === e.l7_protocol,
      });
    }
  }
  setSelection({ kind: 'edge', edge: e, service: e.server, label: `edge ${e.client} → ${e.server} (${e.l7_protocol})`, queries });
}

// selectRED selects the requests of a RED row: the server service (or
// address:port when untagged), and the endpoint when grouped by endpoint.
function selectRED(x) {
  let base = [];
  const m = /^(.*):(\d+)$/.exec(x.service);
  if (m && isIP(m[1])) {
    base.push({ params: { ip_1: m[1], server_port: m[2] }, owns: (r) => !r.service_1 });
  } else {
    base.push({ params: { service_1: x.service }, owns: () => true });
  }
  base = base.map((q) => ({ params: { ...q.params, l7_protocol: x.l7_protocol }, owns: q.owns }));
  let label = `server ${x.service} (${x.l7_protocol})`;
  if (x.endpoint) {
    label += ` endpoint ${x.endpoint}`;
    base = base.flatMap((q) => [
      { params: { ...q.params, endpoint: x.endpoint }, owns: q.owns },
      { params: { ...q.params, endpoint: '', request_resource: x.endpoint }, owns: q.owns },
    ]);
  }
  setSelection({ kind: 'red', service: m && isIP(m[1]) ? '' : x.service, label, queries: base });
}

function setSelection(sel) {
  state.selection = sel;
  markSelection();
  const p = $('#selection');
  p.replaceChildren();
  if (sel) {
    const clear = el('button', { type: 'button', id: 'clear-selection' }, 'show all');
    clear.addEventListener('click', () => setSelection(null));
    p.append('Selected: ', el('strong', {}, sel.label), ' ', clear);
  }
  runSearch().catch(showError);
  loadMetrics().catch(showError);
}

// ---------------------------------------------------------------- search

function parseFilters(text) {
  const out = {};
  const re = /\s*([A-Za-z0-9_]+)=("([^"]*)"|(\S*))\s*/y;
  let i = 0;
  text = text.trim();
  while (i < text.length) {
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m) throw new APIError(400, `search: want field=value (quote values with spaces) at "${truncate(text.slice(i), 30)}"`);
    out[m[1]] = m[3] !== undefined ? m[3] : m[4];
    i = re.lastIndex;
  }
  return out;
}

function searchQueries() {
  const user = parseFilters($('#search').value);
  const range = rangeParams();
  const sel = state.selection ? state.selection.queries : [{ params: {}, owns: () => true }];
  const out = [];
  const seen = new Set();
  for (const q of sel) {
    const params = { ...range, ...user };
    let conflict = false;
    for (const [k, v] of Object.entries(q.params)) {
      if (state.table === 'l4' && L7_ONLY.has(k)) continue; // a flow has no endpoint: its service's flows
      if (k in user && user[k] !== v) conflict = true; // this query can match nothing
      params[k] = v;
    }
    const key = JSON.stringify(params);
    if (!conflict && !seen.has(key)) {
      seen.add(key);
      out.push({ params, owns: q.owns, cursor: '', done: false });
    }
  }
  return out;
}

// L7_ONLY are the selection's filters that flows (l4_flow_log) lack.
const L7_ONLY = new Set(['endpoint', 'request_resource', 'request_type', 'request_domain']);

async function runSearch() {
  const s = { table: state.table, queries: searchQueries(), rows: [] };
  state.search = s;
  $('#detail').hidden = true;
  await loadMore(s);
}

async function loadMore(s) {
  setStatus('searching…');
  const pages = await Promise.all(s.queries.filter((q) => !q.done).map(async (q) => {
    const params = { ...q.params, limit: PAGE };
    if (q.cursor) params.cursor = q.cursor;
    const page = await api('/api/v1/' + s.table, params);
    return { q, page };
  }));
  if (state.search !== s) return; // a newer search started meanwhile
  for (const { q, page } of pages) {
    for (const r of page.rows || []) if (q.owns(r)) s.rows.push(r);
    q.cursor = page.next || '';
    q.done = !page.next;
  }
  s.rows.sort((a, b) => (a.start_time || 0) - (b.start_time || 0));
  renderRows(s);
  setStatus('');
}

const L7_COLUMNS = [
  ['time', (r) => isoTime(r.start_time)],
  ['client', (r) => nodeName(r, 0)],
  ['server', (r) => nodeName(r, 1)],
  ['protocol', (r) => r.l7_protocol || ''],
  ['type', (r) => r.request_type || ''],
  ['domain', (r) => r.request_domain || ''],
  ['resource', (r) => truncate(r.request_resource || '', 80), 'wrap'],
  ['status', (r) => (r.response_status === undefined ? '' : STATUS[r.response_status] || r.response_status)],
  ['code', (r) => (r.response_code === undefined ? '' : r.response_code), 'num'],
  ['duration ms', (r) => (r.has_request && r.has_response ? ms((r.end_time - r.start_time) / 1000) : ''), 'num'],
];

const L4_COLUMNS = [
  ['time', (r) => isoTime(r.start_time)],
  ['client', (r) => nodeName(r, 0)],
  ['server', (r) => nodeName(r, 1)],
  ['client port', (r) => r.client_port, 'num'],
  ['server port', (r) => r.server_port, 'num'],
  ['protocol', (r) => IPPROTO[r.protocol] || r.protocol],
  ['l7', (r) => r.l7_protocol || ''],
  ['packets tx/rx', (r) => `${fmt(r.packet_tx, 0)} / ${fmt(r.packet_rx, 0)}`, 'num'],
  ['bytes tx/rx', (r) => `${fmt(r.byte_tx, 0)} / ${fmt(r.byte_rx, 0)}`, 'num'],
  ['rtt ms', (r) => (r.rtt === undefined ? '' : ms(r.rtt)), 'num'],
  ['duration ms', (r) => (r.duration === undefined ? '' : ms(r.duration)), 'num'],
];

function renderRows(s) {
  const cols = s.table === 'l7' ? L7_COLUMNS : L4_COLUMNS;
  const thead = $('#rows thead');
  thead.replaceChildren(el('tr', {}, ...cols.map(([h, , c]) => el('th', { class: c === 'num' ? 'num' : undefined }, h))));
  const tbody = $('#rows tbody');
  tbody.replaceChildren();
  for (const r of s.rows) {
    const tr = el('tr', {
      'data-client': nodeName(r, 0), 'data-server': nodeName(r, 1), 'data-protocol': r.l7_protocol || '',
      class: s.table === 'l7' && (r.response_status === 1 || r.response_status === 2 || r.response_status === 3) ? 'err' : undefined,
    }, ...cols.map(([, f, c]) => el('td', { class: c }, f(r))));
    tr.addEventListener('click', () => showDetail(r));
    tbody.append(tr);
  }
  const more = s.queries.some((q) => !q.done);
  $('#row-count').textContent = `${s.rows.length} ${s.table === 'l7' ? 'requests' : 'flows'}${more ? ' loaded, more available' : ''}`;
  $('#row-count').dataset.count = s.rows.length;
  $('#row-count').dataset.more = more;
  $('#more').hidden = !more;
  const t = $('#rows');
  t.dataset.searches = Number(t.dataset.searches || 0) + 1; // tests wait on this
}

function showDetail(r) {
  const tb = $('#detail-table tbody');
  tb.replaceChildren();
  for (const k of Object.keys(r).sort()) {
    let v = (r.exact && r.exact[k]) || r[k];
    if (k === 'start_time' || k === 'end_time') v = `${isoTime(r[k])} (${v})`;
    if (k === 'response_status') v = STATUS[v] || v;
    tb.append(el('tr', {}, el('th', {}, k), el('td', { class: 'wrap' }, String(v))));
  }
  const tp = traceParams(r);
  const tb2 = $('#trace-button');
  tb2.hidden = !(state.hasTrace && state.table === 'l7' && tp);
  tb2.onclick = () => loadTrace(r).catch(showError);
  tb2.textContent = tp ? `Show trace (${Object.keys(tp)[0]} ${truncate(String(Object.values(tp)[0]), 24)})` : '';
  $('#detail').hidden = false;
  $('#detail').scrollIntoView({ block: 'nearest' });
}

// ---------------------------------------------------------------- RED

function barChart(title, rows, value, label, opts) {
  const top = rows.slice(0, 12);
  const W = 330, BH = 16, LW = 130, H = top.length * (BH + 4) + 8;
  const max = Math.max(...top.map(value), 0) || 1;
  const s = svg('svg', { width: W, height: H, role: 'img', 'aria-label': title });
  top.forEach((r, i) => {
    const y = 4 + i * (BH + 4);
    const v = value(r);
    const w = Math.max(1, (W - LW - 60) * v / max);
    s.append(svg('text', { x: LW - 4, y: y + BH - 4, 'text-anchor': 'end' }, truncate(label(r), 22)),
      svg('rect', { class: 'bar' + (opts && opts.err && v > 0 ? ' err' : ''), x: LW, y, width: w, height: BH },
        svg('title', {}, `${label(r)}: ${fmt(v, 3)}`)),
      svg('text', { x: LW + w + 4, y: y + BH - 4 }, fmt(v, 3)));
  });
  return el('div', { class: 'chart' }, el('h4', {}, title), s);
}

async function loadRED() {
  const d = await api('/api/v1/red', { ...rangeParams(), group: state.redGroup });
  const rows = d.rows || [];
  const table = $('#red-table');
  table.classList.toggle('by-service', state.redGroup === 'service');
  const tb = $('#red-table tbody');
  tb.replaceChildren();
  for (const x of rows) {
    const tr = el('tr', { 'data-service': x.service, 'data-endpoint': x.endpoint || '', 'data-protocol': x.l7_protocol },
      el('td', {}, x.service), el('td', { class: 'ep wrap' }, x.endpoint || ''), el('td', {}, x.l7_protocol),
      el('td', { class: 'num' }, fmt(x.requests, 0)), el('td', { class: 'num' }, fmt(x.rate, 3)),
      el('td', { class: x.errors > 0 ? 'num bad' : 'num' }, fmt(x.errors, 0)), el('td', { class: x.errors > 0 ? 'num bad' : 'num' }, fmt(100 * x.error_ratio, 2)),
      el('td', { class: 'num' }, ms(x.avg_latency_us)), el('td', { class: 'num' }, ms(x.p99_latency_us)),
      el('td', { class: 'num' }, ms(x.max_latency_us)));
    tr.addEventListener('click', () => selectRED(x));
    tb.append(tr);
  }
  const label = (x) => (x.endpoint ? `${x.service} ${x.endpoint}` : `${x.service} ${x.l7_protocol}`);
  const charts = $('#red-charts');
  charts.replaceChildren(
    barChart('Rate (requests/s)', [...rows].sort((a, b) => b.rate - a.rate), (x) => x.rate, label),
    barChart('Errors (%)', [...rows].sort((a, b) => b.error_ratio - a.error_ratio), (x) => 100 * x.error_ratio, label, { err: true }),
    barChart('Duration p99 (ms)', [...rows].sort((a, b) => b.p99_latency_us - a.p99_latency_us), (x) => x.p99_latency_us / 1000, label));
}

// ---------------------------------------------------------------- metrics over time

// lineChart draws series [{name, points: [[t, v]...]}] on shared axes; a
// gap longer than two windows breaks a line.
function lineChart(title, series, step, digits) {
  const W = 420, H = 170, L = 48, R = 8, T = 8, B = 34;
  const all = series.flatMap((s) => s.points);
  const s = svg('svg', { width: W, height: H, role: 'img', 'aria-label': title });
  const box = el('div', { class: 'chart', 'data-chart': title }, el('h4', {}, title), s);
  if (all.length === 0) {
    s.append(svg('text', { x: L, y: H / 2 }, 'no data'));
    return box;
  }
  const t0 = Math.min(...all.map((p) => p[0])), t1 = Math.max(...all.map((p) => p[0]), t0 + step);
  const vmax = Math.max(...all.map((p) => p[1]), 0) || 1;
  const x = (t) => L + (t - t0) / (t1 - t0) * (W - L - R);
  const y = (v) => T + (1 - v / vmax) * (H - T - B);
  s.append(svg('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B }), svg('line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B }),
    svg('text', { x: L - 4, y: T + 8, 'text-anchor': 'end' }, fmt(vmax, digits)),
    svg('text', { x: L - 4, y: H - B, 'text-anchor': 'end' }, '0'),
    svg('text', { x: L, y: H - B + 13 }, isoTime(t0).slice(0, 19)),
    svg('text', { x: W - R, y: H - B + 13, 'text-anchor': 'end' }, isoTime(t1).slice(0, 19)));
  series.forEach((ser, i) => {
    const hue = (i * 67) % 360;
    let d = '', prev = null;
    for (const [t, v] of ser.points) {
      d += (prev === null || t - prev > 2 * step ? 'M' : 'L') + x(t).toFixed(1) + ',' + y(v).toFixed(1) + ' ';
      prev = t;
    }
    s.append(svg('path', { class: 'line', d, stroke: `hsl(${hue},60%,42%)` }, svg('title', {}, ser.name)));
    // Dots mark the windows: every one when there are few, else those
    // without a neighbour (a line needs two).
    ser.points.forEach(([t, v], j) => {
      const near = (k) => k >= 0 && k < ser.points.length && Math.abs(ser.points[k][0] - t) <= 2 * step;
      if (ser.points.length <= 120 || (!near(j - 1) && !near(j + 1))) {
        s.append(svg('circle', { cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: 2.2, fill: `hsl(${hue},60%,42%)` }));
      }
    });
  });
  const legend = el('div', { class: 'legend' }, ...series.slice(0, 8).map((ser, i) => {
    const sw = el('span', { class: 'swatch' });
    sw.style.background = `hsl(${(i * 67) % 360},60%,42%)`;
    return el('span', {}, sw, ser.name);
  }));
  box.append(legend);
  return box;
}

// loadMetrics draws the metric tables' time series when the server has
// them (/api/v1/metrics/...): per server service, windows of 1 s or 1 min.
async function loadMetrics() {
  if (!state.hasMetrics) return;
  const seq = ++state.metricsSeq; // a later call wins, whatever answers first
  const interval = $('#metrics-interval').value;
  const step = interval === '1s' ? 1e9 : 60e9;
  const params = { ...rangeParams(), interval, group: 'service' };
  // A selected service (node, edge's server, RED row) narrows the charts.
  const svc = state.selection && state.selection.service;
  if (svc) params.service_1 = svc;
  $('#metrics-for').textContent = svc ? `of ${svc} (as a server)` : 'per server service (the 8 busiest)';
  const [app, net] = await Promise.all([
    api('/api/v1/metrics/application', params),
    api('/api/v1/metrics/network', params).catch(() => ({ series: [] })),
  ]);
  const top = (ans, key) => (ans.series || [])
    .map((s) => ({ s, total: s.points.reduce((a, p) => a + (p.values[key] || 0), 0) }))
    .sort((a, b) => b.total - a.total).slice(0, 8).map((x) => x.s);
  const name = (s) => [s.group.service, s.group.l7_protocol].filter(Boolean).join(' ');
  const pick = (list, f) => list.map((s) => ({ name: name(s), points: s.points.map((p) => [p.time, f(p.values)]) }));
  if (seq !== state.metricsSeq) return;
  const a = top(app, 'request'), n = top(net, 'byte_tx');
  const per = interval === '1s' ? 1 : 60;
  $('#metrics-section').hidden = false;
  $('#metrics-charts').replaceChildren(
    lineChart('Requests/s', pick(a, (v) => v.rate ?? (v.request || 0) / per), step, 2),
    lineChart('Errors (%)', pick(a, (v) => 100 * (v.error_ratio || 0)), step, 2),
    lineChart('Response time avg (ms)', pick(a, (v) => (v.rrt_avg || 0) / 1000), step, 3),
    lineChart('Throughput (bytes/s, both ways)', pick(n, (v) => ((v.byte_tx || 0) + (v.byte_rx || 0)) / per), step, 0),
    lineChart('New flows/s', pick(n, (v) => (v.new_flow || 0) / per), step, 2));
}

// ---------------------------------------------------------------- trace (flame graph)

// traceParams are the keys /api/v1/trace takes for a request row: its
// trace id, else an X-Request-ID, else its span (row) id, which every row
// of the DuckDB store's search carries (so every request has the button);
// null when there is none.
function traceParams(r) {
  if (r.trace_id) return { trace_id: r.trace_id };
  if (r.x_request_id_0) return { x_request_id: r.x_request_id_0 };
  if (r.x_request_id_1) return { x_request_id: r.x_request_id_1 };
  if (r.id) return { id: r.id };
  return null;
}

// normalizeTrace turns the answer of /api/v1/trace ({"spans": [...]}, each
// with "parent" the index of its parent or -1, see package query) into
// spans {id, parent, start, end, label, service, error, fields}.
function normalizeTrace(d) {
  const spans = (d && d.spans) || [];
  return spans.map((s, i) => ({
    id: String(i),
    parent: typeof s.parent === 'number' && s.parent >= 0 ? String(s.parent) : '',
    start: Number(s.start_time || 0),
    end: Math.max(Number(s.end_time || 0), Number(s.start_time || 0)),
    label: s.name || [s.request_type, s.request_resource || s.endpoint].filter(Boolean).join(' ') || s.l7_protocol || 'span',
    service: s.service || s.server || '',
    error: ['ClientError', 'ServerError', 'Timeout'].includes(s.response_status),
    fields: s,
  }));
}

// renderFlame draws spans as a flame graph (an icicle on a time axis):
// each span as wide as its duration, children below their parent; spans of
// one depth that overlap in time get lanes of their own.
function renderFlame(spans) {
  const f = $('#flame');
  f.replaceChildren();
  $('#span-detail').textContent = '';
  if (spans.length === 0) {
    f.setAttribute('width', 300); f.setAttribute('height', 30);
    f.append(svg('text', { x: 8, y: 20 }, 'No spans.'));
    return;
  }
  const byID = new Map(spans.map((s) => [s.id, s]));
  const depthOf = new Map();
  const depth = (s) => {
    if (depthOf.has(s.id)) return depthOf.get(s.id);
    depthOf.set(s.id, 0); // a cycle ends here
    const p = s.parent && byID.get(s.parent);
    const d = p ? depth(p) + 1 : 0;
    depthOf.set(s.id, d);
    return d;
  };
  spans.forEach(depth);
  // lanes: per depth, the end time of each lane's last span
  const lanes = [];
  const laneOf = new Map();
  for (const s of [...spans].sort((a, b) => a.start - b.start)) {
    const d = depthOf.get(s.id);
    const ls = lanes[d] || (lanes[d] = []);
    let i = ls.findIndex((end) => end <= s.start);
    if (i < 0) { i = ls.length; ls.push(0); }
    ls[i] = Math.max(s.end, s.start + 1);
    laneOf.set(s.id, i);
  }
  const rowOf = [];
  let rows = 0;
  for (let d = 0; d < lanes.length; d++) { rowOf[d] = rows; rows += (lanes[d] || []).length; }
  const t0 = Math.min(...spans.map((s) => s.start));
  const t1 = Math.max(...spans.map((s) => s.end), t0 + 1);
  const W = Math.max(600, $('#flame-wrap').clientWidth - 4), RH = 20;
  f.setAttribute('width', W); f.setAttribute('height', rows * (RH + 2) + 20);
  f.append(svg('text', { x: 2, y: rows * (RH + 2) + 14 }, `0 — ${fmt((t1 - t0) / 1e6, 3)} ms`));
  const hues = new Map();
  for (const s of spans) {
    if (!hues.has(s.service)) hues.set(s.service, (hues.size * 67) % 360);
    const x = (s.start - t0) / (t1 - t0) * W;
    const w = Math.max(2, (s.end - s.start) / (t1 - t0) * W);
    const y = (rowOf[depthOf.get(s.id)] + laneOf.get(s.id)) * (RH + 2);
    const text = `${s.service ? s.service + ': ' : ''}${s.label}`;
    const g = svg('g', { class: 'span' + (s.error ? ' err' : ''), 'data-span': s.id, 'data-depth': depthOf.get(s.id) },
      svg('title', {}, `${text} (${fmt((s.end - s.start) / 1e6, 3)} ms)`),
      svg('rect', { x, y, width: w, height: RH, fill: `hsl(${hues.get(s.service)},55%,45%)` }),
      svg('text', { x: x + 3, y: y + RH - 6 }, w > 40 ? truncate(text, Math.floor(w / 6.5)) : ''));
    g.addEventListener('click', () => { $('#span-detail').textContent = JSON.stringify(s.fields, null, 2); });
    f.append(g);
  }
}

async function loadTrace(r) {
  const params = traceParams(r);
  if (!params) return;
  const d = await api('/api/v1/trace', params);
  const spans = normalizeTrace(d);
  $('#trace-title').textContent = `${Object.values(params)[0]}: ${spans.length} spans, ${d.calls ?? '?'} calls${d.truncated ? ' (truncated)' : ''}`;
  $('#trace-section').hidden = false;
  renderFlame(spans);
  $('#trace-section').scrollIntoView({ block: 'start' });
}

// probe reports whether an optional endpoint exists, with a valid request
// that finds (almost) nothing: only the query API's own answers (any
// status, or a 404 of its own) say it is there; the server's 404 for a
// path it lacks says it is not.
async function probe(path, params) {
  const headers = state.token ? { Authorization: 'Bearer ' + state.token } : {};
  try {
    const r = await fetch(path + '?' + new URLSearchParams(params), { headers });
    if (r.status === 501) return false; // a store without trace search
    if (r.status !== 404) return true;
    return (await r.text()).startsWith('query:');
  } catch (e) {
    return false;
  }
}

// ---------------------------------------------------------------- wiring

function showError(err) {
  setStatus(err.message || String(err), true);
}

async function refresh() {
  setStatus('loading…');
  try {
    await Promise.all([loadMap(), loadRED(), runSearch(),
      loadMetrics().catch((err) => $('#metrics-charts').replaceChildren(el('p', { class: 'error' }, 'metrics: ' + err.message)))]);
    setStatus('');
    document.body.dataset.ready = 'true';
  } catch (err) {
    showError(err);
  }
}

function fieldHints() {
  const f = state.table === 'l7'
    ? 'l7_protocol request_type request_domain request_resource endpoint response_code response_status trace_id span_id x_request_id_0 ip_0 ip_1 client_port server_port flow_id tap_side agent_id signal_source process_id syscall_trace_id'
    : 'l7_protocol ip_0 ip_1 client_port server_port protocol flow_id close_type';
  $('#fields').textContent = f + ', and tags as <key>_0 / <key>_1 (service_1, pod_0, ...)';
}

function init() {
  readToken();
  $('#token-form').addEventListener('submit', () => {
    state.token = $('#token-input').value;
    sessionStorage.setItem('metaflow.token', state.token);
    refresh();
  });
  $('#range').addEventListener('change', refresh);
  $('#refresh').addEventListener('click', refresh);
  $('#search-form').addEventListener('submit', (ev) => { ev.preventDefault(); runSearch().catch(showError); });
  $('#clear').addEventListener('click', () => { $('#search').value = ''; setSelection(null); });
  $('#more').addEventListener('click', () => state.search && loadMore(state.search).catch(showError));
  for (const b of document.querySelectorAll('[data-red-group]')) {
    b.addEventListener('click', () => {
      state.redGroup = b.dataset.redGroup;
      for (const o of document.querySelectorAll('[data-red-group]')) o.classList.toggle('active', o === b);
      loadRED().catch(showError);
    });
  }
  for (const b of document.querySelectorAll('[data-table]')) {
    b.addEventListener('click', () => {
      state.table = b.dataset.table;
      for (const o of document.querySelectorAll('[data-table]')) o.classList.toggle('active', o === b);
      fieldHints();
      runSearch().catch(showError);
    });
  }
  fieldHints();
  $('#metrics-interval').addEventListener('change', () => loadMetrics().catch(showError));
  Promise.all([
    probe('/api/v1/trace', { id: 1, max_spans: 1, max_rounds: 1 }),
    probe('/api/v1/metrics/application', { interval: '1m', from: 0, to: 1 }),
  ]).then(([trace, metrics]) => {
    state.hasTrace = trace;
    state.hasMetrics = metrics;
    refresh();
  });
}

document.addEventListener('DOMContentLoaded', init);
