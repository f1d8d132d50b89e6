// Reka's dashboard: plain JavaScript against the REST API of the server that serves it.
// Every value from the server goes into the page as text (textContent), never as HTML.
'use strict';

const state = { jobId: null, refreshMs: 1000, timer: null };

// The token can come in the URL's fragment (#token=…, never sent to the server), as the
// `reka` command prints it; it is kept for this tab only.
(function readToken() {
  const m = /(?:^|[#&])token=([0-9a-zA-Z]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem('reka-token', m[1]);
    history.replaceState(null, '', location.pathname);
  }
  document.getElementById('token').value = sessionStorage.getItem('reka-token') || '';
  document.getElementById('token').addEventListener('change', (e) => sessionStorage.setItem('reka-token', e.target.value));
})();

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
function svg(tag, attrs, ...children) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
function fillRows(tbody, rows) {
  tbody.replaceChildren(...rows.map((cells) => el('tr', {}, ...cells.map((c) => (c instanceof Node ? el('td', {}, c) : el('td', {}, c))))));
}
function num(x) {
  if (x === null || x === undefined) return '–';
  if (Math.abs(x) >= 1e9) return (x / 1e9).toFixed(2) + ' G';
  if (Math.abs(x) >= 1e6) return (x / 1e6).toFixed(2) + ' M';
  if (Math.abs(x) >= 1e4) return (x / 1e3).toFixed(1) + ' K';
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}
function time(ms) { return ms === null || ms === undefined ? '–' : new Date(ms).toISOString().replace('T', ' ').replace('Z', ''); }
function duration(ms) {
  const s = Math.floor(ms / 1000);
  return s >= 3600 ? `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m` : s >= 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${s}s`;
}
// A watermark lag: milliseconds below a second, else seconds with milliseconds.
function lag(ms) { return ms < 1000 ? `${ms} ms` : ms < 3600000 ? `${(ms / 1000).toFixed(3)} s` : duration(ms); }
function pct(usage) { return `${Math.round((usage || 0) * 100)}%`; }
function message(text, isError) {
  const m = document.getElementById('message');
  m.textContent = text;
  m.className = isError ? 'error' : '';
}

async function get(path) {
  const r = await fetch(path, { headers: authHeaders() });
  const body = await r.json();
  if (!r.ok) throw new Error((body.errors || [r.statusText]).join('; '));
  return body;
}
function authHeaders() {
  const t = document.getElementById('token').value.trim();
  return t ? { Authorization: 'Bearer ' + t } : {};
}
async function post(path, body) {
  const r = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json', ...authHeaders() }, body: JSON.stringify(body || {}) });
  const answer = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((answer.errors || [r.statusText]).join('; '));
  return answer;
}

// The job graph: vertices in columns by their longest distance from a source.
function drawGraph(job) {
  const g = document.getElementById('graph');
  const byId = new Map(job.vertices.map((v) => [v.id, v]));
  const depth = new Map();
  const depthOf = (v) => {
    if (depth.has(v.id)) return depth.get(v.id);
    depth.set(v.id, 0);
    const d = v.inputs.length ? 1 + Math.max(...v.inputs.map((i) => depthOf(byId.get(i.id)))) : 0;
    depth.set(v.id, d);
    return d;
  };
  job.vertices.forEach(depthOf);
  const columns = [];
  for (const v of job.vertices) (columns[depth.get(v.id)] ||= []).push(v);
  const W = 190, H = 58, GX = 50, GY = 18;
  const pos = new Map();
  columns.forEach((col, c) => col.forEach((v, r) => pos.set(v.id, { x: 10 + c * (W + GX), y: 10 + r * (H + GY) })));
  const width = 20 + columns.length * (W + GX);
  const height = 20 + Math.max(...columns.map((c) => c.length)) * (H + GY);
  g.setAttribute('viewBox', `0 0 ${width} ${height}`);
  g.style.height = Math.min(height, 900) + 'px';
  const defs = svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto' }, svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#6b7480' })));
  const parts = [defs];
  for (const v of job.vertices) {
    const b = pos.get(v.id);
    for (const i of v.inputs) {
      const a = pos.get(i.id);
      if (!a) continue;
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
      parts.push(svg('path', { class: 'edge', d: `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}` }, svg('title', {}, i.partitioning)));
    }
  }
  for (const v of job.vertices) {
    const p = pos.get(v.id);
    const bp = v['backpressured-ms-per-second'] / 1000;
    const cls = bp > 0.5 ? 'bad' : bp > 0.1 ? 'warn' : 'ok';
    const name = v.name.length > 28 ? v.name.slice(0, 27) + '…' : v.name;
    parts.push(svg('g', { class: 'node ' + cls, 'data-vertex': v.id, transform: `translate(${p.x},${p.y})` },
      svg('title', {}, `${v.name}\nbusy ${num(v['busy-ms-per-second'])} ms/s, backpressured ${num(v['backpressured-ms-per-second'])} ms/s`),
      svg('rect', { width: W, height: H }),
      svg('text', { x: 6, y: 16 }, name),
      svg('text', { x: 6, y: 32 }, `parallelism ${v.parallelism}${v.chained ? ' (chained)' : ''}`),
      svg('text', { x: 6, y: 48 }, `in ${num(v['records-in-per-second'])}/s  out ${num(v['records-out-per-second'])}/s`)));
  }
  g.replaceChildren(...parts);
}

function drawThroughput(history) {
  const g = document.getElementById('throughput');
  const pts = history.history;
  const W = 600, H = 150;
  g.setAttribute('viewBox', `0 0 ${W} ${H}`);
  if (pts.length < 2) {
    g.replaceChildren(svg('text', { x: 10, y: 20 }, 'collecting…'));
    return;
  }
  const max = Math.max(1, ...pts.map((p) => p['records-per-second']));
  const t0 = pts[0].time, t1 = pts[pts.length - 1].time;
  const x = (t) => ((t - t0) / Math.max(1, t1 - t0)) * (W - 60) + 55;
  const y = (v) => H - 15 - (v / max) * (H - 30);
  const line = pts.map((p) => `${x(p.time).toFixed(1)},${y(p['records-per-second']).toFixed(1)}`).join(' ');
  g.replaceChildren(
    svg('polyline', { points: line, fill: 'none', stroke: '#2f6fde', 'stroke-width': 2 }),
    svg('text', { x: 2, y: 14, 'font-size': 11 }, num(max)),
    svg('text', { x: 2, y: H - 16, 'font-size': 11 }, '0'),
    svg('text', { x: 55, y: H - 2, 'font-size': 11 }, duration(t1 - t0) + ' shown'));
  document.getElementById('throughput-now').textContent = `now: ${num(pts[pts.length - 1]['records-per-second'])} records/s`;
}

function drawWatermarks(w, job) {
  const names = new Map(job.vertices.map((v) => [v.id, v.name]));
  fillRows(document.querySelector('#watermarks tbody'), w.subtasks.map((s) => {
    const channels = el('span');
    for (const c of s.channels) {
      const label = `${names.get(c.vertex) || c.vertex}#${c.subtask}: ${c['idle-or-ended'] ? 'idle/ended' : time(c.watermark)}`;
      channels.append(el('div', c['idle-or-ended'] ? { class: 'idle' } : {}, label));
    }
    for (const sp of s.splits || []) {
      const state = sp.ended ? 'ended' : sp.idle ? 'idle' : time(sp.watermark);
      channels.append(el('div', sp.ended || sp.idle ? { class: 'idle' } : {}, `split ${sp.id}: ${state}`));
    }
    return [s.name, s.subtask, time(s['input-watermark']), time(s['output-watermark']), channels];
  }));
  const why = document.getElementById('why');
  if (!w['pending-windows'].length) {
    why.replaceChildren(el('p', {}, 'No window or event-time timer is pending.'));
    return;
  }
  why.replaceChildren(...w['pending-windows'].map((p) => {
    const hops = p['held-back-by'];
    const chain = hops.filter((s) => !s['in-flight']).map((s) => (s.split !== undefined
      ? `split ${s.split} at ${time(s['split-watermark'])}`
      : `${s.name || s.vertex} #${s.subtask} at ${time(s['channel-watermark'])}${s.source ? ' (source)' : ''}`)
      + (s['behind-window-ms'] ? `, ${lag(s['behind-window-ms'])} behind` : '')).join(' ← ');
    const inFlight = hops.find((s) => s['in-flight']);
    return el('div', { class: 'why' },
      el('div', {}, el('b', {}, `${p.name} #${p.subtask}`), `: earliest pending window fires at ${time(p['earliest-pending-timer'])}`),
      el('div', {}, `input watermark ${time(p['input-watermark'])}; ${p.reason}`),
      el('div', {}, chain ? 'held back by: ' + chain : 'no input channel holds it back'),
      ...(inFlight ? [el('div', { class: 'in-flight' }, `in flight: ${inFlight.name} #${inFlight.subtask} is at ${time(inFlight.watermark)}`
        + (inFlight['ahead-ms'] !== null ? `, ${lag(inFlight['ahead-ms'])} ahead` : '')
        + ` (output queue ${pct(inFlight['output-queue-usage'])} full`
        + (inFlight['input-queue-usage'] !== undefined ? `, input queue ${pct(inFlight['input-queue-usage'])}` : '') + ')')] : []));
  }));
}

function drawVertices(job) {
  fillRows(document.querySelector('#vertices tbody'), job.vertices.map((v) => [
    v.name, v.parallelism, num(v['records-in-per-second']), num(v['records-out-per-second']),
    `${num(v['busy-ms-per-second'])} ms/s`, `${num(v['backpressured-ms-per-second'])} ms/s`,
    num(v['records-in']), num(v['records-out']), num(v['late-records']), num(v['dead-letters'])]));
}

function drawCheckpoints(c) {
  document.getElementById('checkpoint-counts').textContent =
    `completed ${c.counts.completed}, failed ${c.counts.failed}, in progress ${c.counts['in-progress']}` +
    (c['restored-from'] ? `; restored from ${c['restored-from']}` : '');
  fillRows(document.querySelector('#checkpoints tbody'), c.history.slice(0, 30).map((h) => [
    h.id, h.savepoint ? 'savepoint' : h.incremental ? 'incremental' : 'full', h.status, time(h['trigger-time']),
    `${num(h['duration-ms'])} ms`, num(h['size-bytes']) + 'B', `${num(h['alignment-ms'])} ms`, h.failure || h.path]));
}

async function refresh() {
  try {
    const jobs = (await get('/jobs')).jobs;
    const select = document.getElementById('job-select');
    const ids = jobs.map((j) => j.id).join(',');
    if (select.dataset.ids !== ids) {
      select.replaceChildren(...jobs.map((j) => el('option', { value: j.id }, `${j.name} (${j.id.slice(0, 8)})`)));
      select.dataset.ids = ids;
    }
    if (!state.jobId || !jobs.some((j) => j.id === state.jobId)) {
      const running = jobs.find((j) => j.state === 'RUNNING') || jobs[0];
      state.jobId = running ? running.id : null;
    }
    if (!state.jobId) {
      message('No job runs in this process.');
      return;
    }
    select.value = state.jobId;
    const base = '/jobs/' + state.jobId;
    const [job, history, watermarks, checkpoints, exceptions] = await Promise.all([
      get(base), get(base + '/history'), get(base + '/watermarks'), get(base + '/checkpoints'), get(base + '/exceptions')]);
    const st = document.getElementById('job-state');
    st.textContent = job.state;
    st.className = 'state ' + job.state;
    document.getElementById('job-uptime').textContent = `${job.name} · up ${duration(job.duration)} · ${num(job['source-records'])} records read`;
    const running = job.state === 'RUNNING';
    for (const id of ['savepoint-button', 'stop-button', 'cancel-button']) document.getElementById(id).disabled = !running;
    drawGraph(job);
    drawThroughput(history);
    drawWatermarks(watermarks, job);
    drawVertices(job);
    drawCheckpoints(checkpoints);
    document.getElementById('exceptions').replaceChildren(...(exceptions.exceptions.length
      ? exceptions.exceptions.map((e) => el('li', {}, `${time(e.timestamp)}: ${e.message}`)) : [el('li', {}, 'none')]));
    if (!state.configShown) {
      const config = await get(base + '/config');
      fillRows(document.querySelector('#config tbody'), config.config.map((c) => [c.key, c.value, c.source]));
      state.configShown = true;
    }
    document.body.dataset.loaded = 'true';
  } catch (e) {
    // After a stop or cancel from this page the process ends and its server with it.
    if (state.finalMessage) message(state.finalMessage + ' (the job has ended; this page no longer updates)');
    else message('cannot reach the job: ' + e.message, true);
  }
}

async function control(action, body, confirmText) {
  if (!state.jobId || (confirmText && !confirm(confirmText))) return;
  message(`${action}…`);
  try {
    const r = await post(`/jobs/${state.jobId}/${action}`, body);
    const text = r.savepoint ? `${action}: savepoint ${r.savepoint}` : `${action}: ${r.status || 'done'}`;
    if (action !== 'savepoints') state.finalMessage = text;
    message(text);
  } catch (e) {
    message(`${action} failed: ${e.message}`, true);
  }
  refresh();
}

document.getElementById('job-select').addEventListener('change', (e) => {
  state.jobId = e.target.value;
  state.configShown = false;
  refresh();
});
document.getElementById('savepoint-button').addEventListener('click', () => control('savepoints', {}));
document.getElementById('stop-button').addEventListener('click', () => control('stop', { savepoint: true }));
document.getElementById('cancel-button').addEventListener('click', () => control('cancel', {}, 'Cancel the job without a savepoint?'));

refresh();
state.timer = setInterval(refresh, state.refreshMs);
