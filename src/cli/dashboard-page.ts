/**
 * The dashboard's one page: plain HTML, CSS and JavaScript, served as they are, so that a user
 * needs no build step. It follows `/events` and keeps the token it is given in memory only,
 * sending it in a header.
 */
const style = `
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f5f6f8; }
  header { display: flex; gap: 16px; align-items: center; padding: 12px 24px; background: #1d2330; color: #fff; }
  header h1 { font-size: 18px; margin: 0; flex: 1; }
  header input { padding: 4px 8px; border-radius: 4px; border: 0; }
  main { padding: 16px 24px; }
  h2 { font-size: 15px; margin: 20px 0 8px; }
  table { border-collapse: collapse; background: #fff; box-shadow: 0 1px 2px #0002; width: 100%; }
  th, td { padding: 6px 10px; border-bottom: 1px solid #e3e6eb; text-align: right; white-space: nowrap; }
  th:first-child, td:first-child, td.text { text-align: left; }
  td.text { white-space: normal; }
  th { background: #eef0f4; font-weight: 600; }
  .bad { color: #b3261e; font-weight: 600; }
  .dot { display: inline-block; width: 8px; height: 8px; border-radius: 50%; background: #888; }
  .dot.on { background: #3ecf6e; }
  svg.chart { display: block; }
  button { cursor: pointer; }
  button.link { background: none; border: 0; color: #1a5fd0; text-decoration: underline; padding: 0; font: inherit; }
  #parked { margin-top: 8px; }
  .note { color: #666; font-size: 12px; }
`;

const script = `
  let token = '';
  let snapshot = null;
  let shownApp = null;
  const $ = (id) => document.getElementById(id);
  const cell = (row, text, cls) => { const td = row.insertCell(); td.textContent = text; if (cls) td.className = cls; return td; };
  const dur = (s) => s === null || s === undefined ? '-' : s < 60 ? s.toFixed(1) + ' s' : s < 3600 ? (s / 60).toFixed(1) + ' min' : (s / 3600).toFixed(1) + ' h';
  const ms = (v) => v === null || v > 1e12 ? '> 5 min' : v >= 1000 ? v / 1000 + ' s' : v + ' ms';
  const unknown = (v) => v === null || v === undefined ? '?' : String(v);

  function chart(rate) {
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('class', 'chart'); svg.setAttribute('width', '180'); svg.setAttribute('height', '32');
    if (!rate) return svg;
    const max = Math.max(1, ...rate.map((r) => r.perSecond));
    const step = 180 / Math.max(1, rate.length - 1);
    const points = rate.map((r, i) => (i * step).toFixed(1) + ',' + (30 - (r.perSecond / max) * 28).toFixed(1)).join(' ');
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', points); line.setAttribute('fill', 'none'); line.setAttribute('stroke', '#1a5fd0'); line.setAttribute('stroke-width', '1.5');
    svg.appendChild(line);
    const title = document.createElementNS(ns, 'title');
    title.textContent = 'applied per second over the last 5 minutes, at most ' + max.toFixed(1);
    svg.appendChild(title);
    return svg;
  }

  function renderSubscribers(list) {
    const body = $('subscribers').tBodies[0]; body.replaceChildren();
    for (const s of list) {
      const row = body.insertRow(); row.dataset.app = s.app;
      cell(row, s.app);
      if (s.error) { cell(row, s.error, 'bad text').colSpan = 10; continue; }
      cell(row, String(s.consumers)); cell(row, String(s.ready)); cell(row, String(s.retrying));
      const parked = cell(row, '', s.parked > 0 ? 'bad' : '');
      const show = document.createElement('button'); show.className = 'link'; show.textContent = String(s.parked);
      show.title = 'list the parked messages'; show.onclick = () => showParked(s.app); parked.appendChild(show);
      cell(row, unknown(s.waiting)); cell(row, unknown(s.lagOperations)); cell(row, s.lagSeconds === null ? '?' : dur(s.lagSeconds));
      const last = s.rate && s.rate.length ? s.rate[s.rate.length - 1].perSecond : null;
      cell(row, last === null ? '?' : last.toFixed(1));
      cell(row, '').appendChild(chart(s.rate));
      cell(row, s.latency ? s.latency.map((l) => l.publisher + ': ' + ms(l.p50Ms) + ' / ' + ms(l.p99Ms)).join(', ') || '-' : '?', 'text');
    }
  }

  function renderPublishers(list) {
    const body = $('publishers').tBodies[0]; body.replaceChildren();
    for (const p of list) {
      const row = body.insertRow(); row.dataset.app = p.app;
      cell(row, p.app);
      if (p.error) { cell(row, p.error, 'bad text').colSpan = 3; continue; }
      cell(row, String(p.outbox)); cell(row, dur(p.oldestRowSeconds)); cell(row, p.resyncRequests === null ? '-' : String(p.resyncRequests));
    }
  }

  function render(next) {
    snapshot = next;
    renderSubscribers(next.subscribers);
    renderPublishers(next.publishers);
    $('updated').textContent = 'updated ' + new Date(next.at).toLocaleTimeString();
    $('mode').textContent = next.writable ? (token ? 'parked messages can be retried or dropped' : 'type the token to retry or drop parked messages') : 'read-only: no token is configured';
    $('token').hidden = !next.writable;
  }

  async function showParked(app) {
    shownApp = app;
    const response = await fetch('/parked?app=' + encodeURIComponent(app));
    const messages = await response.json();
    $('parked-title').textContent = 'Parked messages of ' + app + ' (' + messages.length + ')';
    const body = $('parked').tBodies[0]; body.replaceChildren();
    for (const m of messages) {
      const row = body.insertRow();
      cell(row, m.messageId || '(no id)'); cell(row, new Date(m.parkedAt).toLocaleString()); cell(row, String(m.attempts)); cell(row, m.reason, 'text');
      const actions = cell(row, '');
      for (const action of ['retry', 'drop']) {
        const button = document.createElement('button'); button.textContent = action;
        button.disabled = !(snapshot && snapshot.writable && token && m.messageId);
        button.onclick = () => act(action, app, [m.messageId]);
        actions.appendChild(button);
      }
    }
    $('parked-section').hidden = false;
  }

  async function act(action, app, ids) {
    const response = await fetch('/parked/' + action, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer ' + token },
      body: JSON.stringify({ app, ids }),
    });
    const answer = await response.json();
    $('result').textContent = response.ok ? JSON.stringify(answer) : (answer.error || response.statusText);
    await showParked(app);
  }

  $('token').addEventListener('input', (event) => { token = event.target.value; if (snapshot) render(snapshot); if (shownApp) showParked(shownApp); });
  const events = new EventSource('/events');
  events.onmessage = (event) => render(JSON.parse(event.data));
  events.onopen = () => $('live').classList.add('on');
  events.onerror = () => $('live').classList.remove('on');
`;

export const dashboardPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Promiscuous dashboard</title>
<style>${style}</style>
</head>
<body>
<header>
  <h1>Promiscuous</h1>
  <span class="dot" id="live" title="live updates"></span>
  <span id="updated">connecting</span>
  <input id="token" type="password" placeholder="token" autocomplete="off" hidden>
</header>
<main>
  <h2>Subscribers</h2>
  <table id="subscribers">
    <thead><tr><th>app</th><th>workers</th><th>queued</th><th>retrying</th><th>parked</th><th>waiting</th>
    <th>lag (ops)</th><th>lag</th><th>applied/s</th><th>last 5 min</th><th>latency p50 / p99</th></tr></thead>
    <tbody></tbody>
  </table>
  <h2>Publishers</h2>
  <table id="publishers">
    <thead><tr><th>app</th><th>outbox</th><th>oldest row</th><th>re-sync requests</th></tr></thead>
    <tbody></tbody>
  </table>
  <section id="parked-section" hidden>
    <h2 id="parked-title">Parked messages</h2>
    <table id="parked">
      <thead><tr><th>message</th><th>parked</th><th>attempts</th><th>reason</th><th></th></tr></thead>
      <tbody></tbody>
    </table>
    <p class="note" id="result"></p>
  </section>
  <p class="note" id="mode"></p>
</main>
<script>${script}</script>
</body>
</html>
`;
