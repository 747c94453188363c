/**
 * The status page: a static HTML shell, its stylesheet and its script, served by the status
 * server (uPlot beside them, from the `uplot` package). The script reads the live feed (`events`,
 * server-sent events read through fetch so that a token travels in a header, never in a URL) and
 * builds every row with textContent: identities and topics are strings peers chose.
 * A token, when the server needs one, is given in the page address after `#token=` (a fragment
 * the browser never sends); the page holds no key or secret of its own.
 */

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vip platform status</title>
<link rel="stylesheet" href="assets/uPlot.min.css">
<link rel="stylesheet" href="assets/status.css">
<script src="assets/uPlot.iife.min.js" defer></script>
<script src="assets/status.js" defer></script>
</head>
<body>
<header>
  <h1>vip <span id="instance">…</span></h1>
  <div id="summary" class="muted">connecting…</div>
  <div id="feed" data-state="connecting">connecting</div>
</header>
<main>
  <section id="rates-section">
    <h2>Rates (per second, last minutes)</h2>
    <div id="rates" data-samples="0"></div>
    <div id="totals" class="muted"></div>
  </section>
  <section id="peers-section">
    <h2>Peers <span id="peer-count" class="badge">0</span></h2>
    <table id="peers"><thead><tr><th>identity</th><th>user</th><th>bus</th><th>connected since</th><th>queued</th><th>queued bytes</th><th>dropped</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Topics <span id="topic-count" class="badge">0</span></h2>
    <table id="topics"><thead><tr><th>prefix</th><th>bus</th><th>subscribers</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Router statistics (Tracker)</h2>
    <div id="tracker"></div>
  </section>
  <section>
    <h2>Linked platforms</h2>
    <table id="links"><thead><tr><th>instance</th><th>address</th><th>state</th><th>since</th></tr></thead><tbody></tbody></table>
  </section>
</main>
</body>
</html>
`;

export const PAGE_CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1f2937; background: #f8fafc; }
header { background: #0f172a; color: #f8fafc; padding: 12px 20px; display: flex; gap: 24px; align-items: baseline; }
header h1 { margin: 0; font-size: 20px; }
header .muted { color: #cbd5e1; }
#feed { margin-left: auto; font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #475569; }
#feed[data-state="live"] { background: #15803d; }
#feed[data-state="error"] { background: #b91c1c; }
main { padding: 12px 20px; display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
section { background: #fff; border: 1px solid #e2e8f0; border-radius: 6px; padding: 10px 14px; overflow: auto; }
#rates-section, #peers-section { grid-column: 1 / 3; }
h2 { font-size: 15px; margin: 0 0 8px; }
.badge { background: #e2e8f0; border-radius: 8px; padding: 0 6px; font-size: 12px; }
.muted { color: #64748b; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #f1f5f9; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.empty { color: #94a3b8; font-style: italic; }
`;

export const PAGE_JS = `'use strict';
(() => {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  const headers = token ? { Authorization: 'Bearer ' + token } : {};
  const WINDOW = 600;
  const series = [[], [], [], []];
  let chart;
  const $ = (id) => document.getElementById(id);
  const fmt = (n) => (n >= 100 ? Math.round(n).toString() : n.toFixed(1));
  const time = (ms) => new Date(ms).toLocaleTimeString();

  function cell(row, text, cls) {
    const td = document.createElement('td');
    td.textContent = String(text);
    if (cls) td.className = cls;
    row.appendChild(td);
  }
  function fill(tableId, rows, columns, empty) {
    const body = $(tableId).tBodies[0];
    const out = document.createDocumentFragment();
    for (const r of rows) {
      const tr = document.createElement('tr');
      for (const [get, cls] of columns) cell(tr, get(r), cls);
      out.appendChild(tr);
    }
    if (rows.length === 0) {
      const tr = document.createElement('tr');
      const td = document.createElement('td');
      td.colSpan = columns.length;
      td.className = 'empty';
      td.textContent = empty;
      tr.appendChild(td);
      out.appendChild(tr);
    }
    body.replaceChildren(out);
  }

  function addRates(samples) {
    const last = series[0].length ? series[0][series[0].length - 1] : -Infinity;
    for (const s of samples) {
      const t = s.t / 1000;
      if (t <= last) continue;
      series[0].push(t); series[1].push(s.messages); series[2].push(s.deliveries); series[3].push(s.drops);
    }
    const extra = series[0].length - WINDOW;
    if (extra > 0) for (const a of series) a.splice(0, extra);
    const el = $('rates');
    if (!chart && window.uPlot) {
      chart = new uPlot({
        width: Math.max(320, el.clientWidth || 800), height: 220,
        scales: { x: { time: true } },
        series: [{}, { label: 'messages/s', stroke: '#2563eb', width: 2 }, { label: 'deliveries/s', stroke: '#16a34a', width: 2 },
          { label: 'drops/s', stroke: '#dc2626', width: 2 }],
      }, series, el);
    } else if (chart) chart.setData(series);
    const n = series[0].length;
    el.dataset.samples = String(n);
    el.dataset.lastMessages = n ? String(series[1][n - 1]) : '0';
    el.dataset.lastDeliveries = n ? String(series[2][n - 1]) : '0';
  }

  function render(s) {
    $('instance').textContent = s.instance;
    $('summary').textContent = s.bus + ' bus · version ' + s.version + ' · up since ' + time(s.startedAt);
    $('totals').textContent = 'received ' + s.totals.received + ' · forwarded ' + s.totals.forwarded + ' · published ' + s.totals.published
      + ' · delivered ' + s.totals.delivered + ' · dropped ' + s.totals.dropped;
    addRates(s.rates);
    $('peer-count').textContent = String(s.peers.length + s.peersOmitted);
    fill('peers', s.peers, [[(p) => p.identity], [(p) => p.user], [(p) => p.bus], [(p) => time(p.connectedSince)],
      [(p) => p.queued, 'num'], [(p) => p.queuedBytes, 'num'], [(p) => p.dropped, 'num']], 'no peers');
    $('topic-count').textContent = String(s.topics.length + s.topicsOmitted);
    fill('topics', s.topics, [[(t) => t.prefix], [(t) => t.bus || '(default)'], [(t) => t.subscribers, 'num']], 'no subscriptions');
    const tr = s.tracker;
    const subsystems = (m) => Object.entries(m).map(([k, v]) => k + ' ' + v).join(', ') || 'none';
    $('tracker').textContent = tr.enabled
      ? 'counting since ' + (tr.start ? time(tr.start * 1000) : '?') + ' · incoming: ' + subsystems(tr.incoming) + ' · outgoing: '
        + subsystems(tr.outgoing) + ' · errors ' + tr.errors + ' · unroutable ' + tr.unroutable
      : 'off (vipctl stats enable starts it)';
    fill('links', s.linkedPlatforms, [[(l) => l.instance], [(l) => l.address], [(l) => l.state], [(l) => (l.since ? time(l.since) : '')]],
      'no linked platforms');
  }

  function feed(state, text) {
    $('feed').dataset.state = state;
    $('feed').textContent = text;
  }

  async function stream() {
    for (;;) {
      try {
        const res = await fetch('events', { headers, cache: 'no-store' });
        if (!res.ok || !res.body) throw new Error(res.status === 401 ? 'token required (#token=...)' : 'HTTP ' + res.status);
        feed('live', 'live');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf('\\n\\n')) >= 0) {
            const event = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = event.split('\\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\\n');
            if (data) render(JSON.parse(data));
          }
        }
        feed('error', 'feed closed');
      } catch (err) {
        feed('error', String(err && err.message || err));
      }
      await new Promise((r) => setTimeout(r, 3000));
    }
  }
  window.addEventListener('resize', () => {
    if (chart) chart.setSize({ width: Math.max(320, $('rates').clientWidth || 800), height: 220 });
  });
  stream();
})();
`;
