/*
 * The admin web page: one static HTML shell, a stylesheet and a small script, served by the
 * admin listener as they are (no build step, no third-party code). The page holds no data:
 * the script fetches everything from the JSON API with the admin token the operator types
 * in (kept in sessionStorage, sent as a bearer header, so there is no cookie to forge).
 * Data is only ever inserted with textContent, never as HTML.
 *
 * They live in a module, not in files next to it, so the bundled CLI and library carry them.
 */

export const ADMIN_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>VCS Agent Pools · vcs-gateway</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/admin.css">
<script src="/assets/admin.js" defer></script>
</head>
<body>
<header class="topbar">
  <a href="/" class="brand"><span class="logo" aria-hidden="true"></span>vcs-gateway</a>
  <span class="topbar-title">Admin</span>
  <span class="spacer"></span>
  <span id="live-indicator" class="live" hidden><span class="dot"></span><span id="live-text">Live</span></span>
  <button id="sign-out" class="link-button" type="button" hidden>Sign out</button>
</header>
<main>
  <section id="sign-in" class="narrow" hidden>
    <h1>Sign in</h1>
    <form id="sign-in-form" class="card">
      <label for="token-input">Admin token</label>
      <input id="token-input" name="token" type="password" autocomplete="current-password" required>
      <p class="hint">The value of <code>--admin-token</code> (or <code>VCS_GATEWAY_ADMIN_TOKEN</code>). It stays in this tab only.</p>
      <button type="submit" class="primary">Sign in</button>
      <p id="sign-in-error" class="error" role="alert"></p>
    </form>
  </section>

  <section id="pools-view" hidden>
    <div class="page-head">
      <h1>VCS Agent Pools</h1>
      <p class="sub">Each pool is a group of agents running next to a private VCS. Requests to <code>private://&lt;pool&gt;/…</code> go to its agents.</p>
    </div>
    <div class="layout">
      <div class="card grow">
        <h2>Pools</h2>
        <table id="pools-table" class="table">
          <thead><tr><th>Name</th><th>Description</th><th class="num">Active connections</th><th class="num">Streams busy / idle</th><th>Created</th></tr></thead>
          <tbody></tbody>
        </table>
        <p id="pools-empty" class="empty" hidden>No pools yet. Create one to get a configuration token for your agents.</p>
      </div>
      <div class="card side">
        <h2>Create a pool</h2>
        <form id="create-form">
          <label for="create-name">Name</label>
          <input id="create-name" name="name" required maxlength="63" pattern="[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?" placeholder="gitlab-eu" autocomplete="off">
          <p class="hint">Lower-case letters, digits and inner hyphens.</p>
          <label for="create-description">Description</label>
          <textarea id="create-description" name="description" maxlength="1024" rows="3" placeholder="What the pool is for"></textarea>
          <button type="submit" class="primary">Create pool and download token</button>
          <p id="create-result" class="notice" role="status" hidden></p>
          <p id="create-error" class="error" role="alert"></p>
        </form>
      </div>
    </div>
  </section>

  <section id="pool-view" hidden>
    <nav class="crumbs"><a href="/">Pools</a> <span aria-hidden="true">/</span> <span id="crumb-name"></span></nav>
    <div class="page-head">
      <h1 id="pool-title"></h1>
      <p id="pool-description" class="sub"></p>
      <dl class="facts">
        <div><dt>Active connections</dt><dd id="pool-connections">0</dd></div>
        <div><dt>Streams busy / idle</dt><dd id="pool-streams">0 / 0</dd></div>
        <div><dt>Queued</dt><dd id="pool-queued">0</dd></div>
        <div><dt>Key generation</dt><dd id="pool-key"></dd></div>
        <div><dt>Pool id</dt><dd id="pool-id" class="mono"></dd></div>
      </dl>
    </div>
    <div class="card">
      <h2>Connections</h2>
      <table id="connections-table" class="table">
        <thead><tr><th>Agent</th><th>Remote address</th><th>Connected since</th><th>Vendor</th><th>Version</th><th>Tags</th><th class="num">Streams busy / idle</th><th class="num">Requests served</th><th>Protocol</th></tr></thead>
        <tbody></tbody>
      </table>
      <p id="connections-empty" class="empty" hidden>No agent is connected to this pool.</p>
    </div>
    <div class="card">
      <div class="card-head">
        <h2>Access log</h2>
        <form id="filter-form" class="filters">
          <label>Status <input id="filter-status" name="status" placeholder="404 or 5xx" size="8" autocomplete="off"></label>
          <label>Decision <select id="filter-decision" name="decision"><option value="">any</option><option>allow</option><option>deny</option><option>none</option></select></label>
          <label>Outcome <select id="filter-outcome" name="outcome"><option value="">any</option><option>completed</option><option>failed</option><option>aborted</option><option>rejected</option></select></label>
          <label>Since <select id="filter-since" name="since"><option value="">any time</option><option value="300">5 minutes</option><option value="3600">1 hour</option><option value="86400">24 hours</option></select></label>
          <label class="check"><input id="filter-live" type="checkbox" checked> Live</label>
        </form>
      </div>
      <p id="filter-error" class="error" role="alert"></p>
      <table id="access-table" class="table compact">
        <thead><tr><th>Time</th><th>Method</th><th>Path</th><th class="num">Status</th><th>Decision</th><th class="num">Bytes in / out</th><th class="num">Duration</th><th>Agent</th><th>Outcome</th><th>Request id</th></tr></thead>
        <tbody></tbody>
      </table>
      <p id="access-empty" class="empty" hidden>No requests recorded.</p>
    </div>
    <div class="card">
      <h2>Manage</h2>
      <div class="manage">
        <form id="describe-form">
          <label for="describe-input">Description</label>
          <div class="inline"><input id="describe-input" name="description" maxlength="1024" autocomplete="off"><button type="submit" class="secondary">Save</button></div>
        </form>
        <form id="rotate-form">
          <label for="rotate-grace">Rotate the key: the old key stays valid for</label>
          <div class="inline">
            <select id="rotate-grace" name="grace"><option value="0">no time (disconnect now)</option><option value="3600">1 hour</option><option value="86400" selected>24 hours</option><option value="604800">7 days</option></select>
            <button type="submit" class="secondary">Rotate key and download token</button>
          </div>
        </form>
        <div>
          <label>Delete the pool: its agents are disconnected and refused</label>
          <button id="delete-button" type="button" class="danger">Delete pool…</button>
        </div>
      </div>
      <p id="manage-result" class="notice" role="status" hidden></p>
      <p id="manage-error" class="error" role="alert"></p>
    </div>
  </section>
  <p id="not-found" class="narrow empty" hidden>There is no pool with that name. <a href="/">Back to the pools</a></p>
</main>
</body>
</html>
`;

export const ADMIN_CSS = String.raw`:root {
  --bg: #f5f6f8; --card: #fff; --ink: #1d2330; --muted: #5d6677; --line: #e2e5eb; --accent: #2f5bd3;
  --ok: #1d8a4a; --warn: #b26a00; --bad: #c0342b; --chip: #eef1f7;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; font-size: 14px; line-height: 1.45; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
.topbar { display: flex; align-items: center; gap: 12px; padding: 10px 24px; background: #1d2330; color: #fff; }
.topbar .brand { color: #fff; font-weight: 600; display: flex; align-items: center; gap: 8px; }
.logo { width: 18px; height: 18px; border-radius: 4px; background: linear-gradient(135deg, #5b8cff, #2f5bd3); display: inline-block; }
.topbar-title { color: #aab3c5; }
.spacer { flex: 1; }
.live { display: inline-flex; align-items: center; gap: 6px; color: #cfe9d8; font-size: 12px; }
.live .dot { width: 8px; height: 8px; border-radius: 50%; background: #39c172; box-shadow: 0 0 0 3px rgba(57, 193, 114, .25); }
.live.paused .dot { background: #8a93a5; box-shadow: none; }
.link-button { background: none; border: 0; color: #cdd5e4; cursor: pointer; font: inherit; }
main { padding: 24px; max-width: 1280px; margin: 0 auto; }
.narrow { max-width: 420px; margin: 40px auto; }
.page-head h1 { margin: 0 0 4px; font-size: 22px; }
.sub { margin: 0 0 16px; color: var(--muted); }
.layout { display: flex; gap: 16px; align-items: flex-start; flex-wrap: wrap; }
.grow { flex: 1 1 560px; }
.side { flex: 0 1 320px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 16px; margin-bottom: 16px; overflow-x: auto; }
.card h2 { margin: 0 0 12px; font-size: 15px; }
.card-head { display: flex; justify-content: space-between; align-items: flex-start; gap: 12px; flex-wrap: wrap; }
.table { width: 100%; border-collapse: collapse; }
.table th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; border-bottom: 1px solid var(--line); padding: 6px 8px; white-space: nowrap; }
.table td { border-bottom: 1px solid var(--line); padding: 8px; vertical-align: top; }
.table.compact td { padding: 5px 8px; font-size: 13px; }
.table tr:last-child td { border-bottom: 0; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.path { max-width: 360px; overflow-wrap: anywhere; }
.table td a, .table td.nowrap { white-space: nowrap; }
.count { display: inline-block; min-width: 28px; padding: 1px 8px; border-radius: 999px; background: var(--chip); text-align: center; font-weight: 600; }
.count.on { background: #dff3e6; color: var(--ok); }
.chip { display: inline-block; margin: 0 4px 4px 0; padding: 1px 8px; border-radius: 999px; background: var(--chip); font-size: 12px; white-space: nowrap; }
.status-2, .decision-allow { color: var(--ok); }
.status-3 { color: var(--accent); }
.status-4, .decision-deny { color: var(--warn); font-weight: 600; }
.status-5, .status-0, .outcome-failed, .outcome-rejected { color: var(--bad); font-weight: 600; }
.decision-none { color: var(--muted); }
label { display: block; font-weight: 600; margin: 10px 0 4px; }
input, textarea, select { font: inherit; padding: 6px 8px; border: 1px solid #c9ced8; border-radius: 6px; background: #fff; width: 100%; }
.filters { display: flex; gap: 10px; flex-wrap: wrap; align-items: flex-end; }
.filters label { margin: 0; font-weight: 500; font-size: 12px; color: var(--muted); }
.filters input, .filters select { width: auto; margin-top: 2px; }
.filters .check { display: flex; align-items: center; gap: 4px; padding-bottom: 6px; }
.filters .check input { width: auto; }
button.primary { margin-top: 14px; background: var(--accent); color: #fff; border: 0; border-radius: 6px; padding: 8px 14px; font: inherit; font-weight: 600; cursor: pointer; }
button.primary:hover { filter: brightness(1.1); }
.hint { color: var(--muted); font-size: 12px; margin: 4px 0 0; }
.error { color: var(--bad); min-height: 1em; margin: 8px 0 0; }
.error:empty { display: none; }
.notice { background: #eef6ff; border: 1px solid #c6dcff; border-radius: 6px; padding: 8px 10px; margin: 12px 0 0; }
.empty { color: var(--muted); margin: 8px 0 0; }
.crumbs { margin-bottom: 8px; color: var(--muted); }
.facts { display: flex; gap: 28px; flex-wrap: wrap; margin: 0 0 16px; }
.facts dt { color: var(--muted); font-size: 12px; }
.facts dd { margin: 2px 0 0; font-weight: 600; font-size: 16px; }
.facts dd.mono { font-size: 12.5px; font-weight: 500; padding-top: 3px; }
.manage { display: flex; gap: 28px; flex-wrap: wrap; align-items: flex-end; }
.manage label { font-weight: 500; color: var(--muted); font-size: 12px; margin-top: 0; }
.inline { display: flex; gap: 8px; }
.inline input, .inline select { width: auto; min-width: 220px; }
button.secondary, button.danger { font: inherit; border-radius: 6px; padding: 6px 12px; cursor: pointer; background: #fff; border: 1px solid #c9ced8; color: var(--ink); white-space: nowrap; }
button.danger { border-color: #e5b1ac; color: var(--bad); }
button.secondary:hover, button.danger:hover { background: #f3f5f9; }
[hidden] { display: none !important; }
`;

export const ADMIN_SCRIPT = String.raw`'use strict';
(function () {
  var TOKEN_KEY = 'vcs-gateway-admin-token';
  var POOLS_REFRESH_MS = 3000;
  var POOL_REFRESH_MS = 1500;
  var timer = null;
  var $ = function (id) { return document.getElementById(id); };

  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  function api(method, path, body) {
    var init = { method: method, headers: { authorization: 'Bearer ' + token(), accept: 'application/json' }, cache: 'no-store' };
    if (body !== undefined) { init.headers['content-type'] = 'application/json'; init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (res.status === 401) { sessionStorage.removeItem(TOKEN_KEY); show('sign-in'); }
        if (!res.ok) {
          var error = new Error(data && data.error ? data.error.message : 'HTTP ' + res.status);
          error.status = res.status;
          error.field = data && data.error ? data.error.field : undefined;
          throw error;
        }
        return data;
      });
    });
  }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function row(cells) {
    var tr = document.createElement('tr');
    cells.forEach(function (cell) {
      if (cell.tagName === 'TD') { tr.appendChild(cell); return; }
      var wrapper = document.createElement('td');
      wrapper.appendChild(cell);
      tr.appendChild(wrapper);
    });
    return tr;
  }

  function td(text, className) { return el('td', text, className); }

  // Where a record's agent was: its replica, and for a forwarded request the replica it passed through.
  function where(e) {
    if (e.forwardedTo) return ' @ ' + e.forwardedTo + (e.replica ? ' via ' + e.replica : '');
    if (!e.replica) return '';
    return ' @ ' + e.replica + (e.forwardedFrom ? ' from ' + e.forwardedFrom : '');
  }

  function fill(tableId, emptyId, rows) {
    var body = $(tableId).tBodies[0];
    body.replaceChildren.apply(body, rows);
    $(tableId).hidden = rows.length === 0;
    $(emptyId).hidden = rows.length !== 0;
  }

  function time(iso) {
    var date = new Date(iso);
    return isNaN(date) ? '' : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  }

  function bytes(n) {
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
    return (n / 1048576).toFixed(1) + ' MiB';
  }

  function show(view) {
    ['sign-in', 'pools-view', 'pool-view', 'not-found'].forEach(function (id) { $(id).hidden = id !== view; });
    $('sign-out').hidden = view === 'sign-in';
    $('live-indicator').hidden = view === 'sign-in' || view === 'not-found';
    if (view === 'sign-in' || view === 'not-found') stop();
  }

  function stop() { if (timer !== null) { clearTimeout(timer); timer = null; } }

  function schedule(fn, ms) {
    stop();
    timer = setTimeout(function () { fn().then(function () { schedule(fn, ms); }, function () { schedule(fn, ms); }); }, ms);
  }

  function setLive(ok, text) {
    $('live-indicator').classList.toggle('paused', !ok);
    $('live-text').textContent = text;
  }

  // The pools list (the "VCS Agent Pools" page).
  function loadPools() {
    return api('GET', '/api/v1/pools').then(function (data) {
      fill('pools-table', 'pools-empty', data.pools.map(function (pool) {
        var link = el('a', pool.name);
        link.href = '/pools/' + encodeURIComponent(pool.name);
        var count = el('span', pool.connections, pool.connections > 0 ? 'count on' : 'count');
        var countCell = td('', 'num'); countCell.appendChild(count);
        var tr = row([link, td(pool.description), countCell, td(pool.streamsBusy + ' / ' + pool.streamsIdle, 'num'), td(time(pool.createdAt))]);
        tr.dataset.pool = pool.name;
        return tr;
      }));
      setLive(true, 'Live · ' + new Date().toLocaleTimeString());
    }).catch(function (error) { setLive(false, 'Paused: ' + error.message); throw error; });
  }

  function download(name, text) {
    var blob = new Blob([text + '\n'], { type: 'text/plain' });
    var url = URL.createObjectURL(blob);
    var a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  }

  function onCreate(event) {
    event.preventDefault();
    $('create-error').textContent = '';
    $('create-result').hidden = true;
    var name = $('create-name').value.trim();
    var description = $('create-description').value;
    api('POST', '/api/v1/pools', { name: name, description: description }).then(function (data) {
      var file = data.pool.name + '.token';
      download(file, data.token);
      $('create-result').textContent = 'Pool "' + data.pool.name + '" created. Its configuration token was downloaded as ' + file + ': it is shown only this once. Give it to the agent as --token (SPACELIFT_VCS_AGENT_POOL_TOKEN).';
      $('create-result').hidden = false;
      $('create-form').reset();
      return loadPools();
    }).catch(function (error) {
      $('create-error').textContent = (error.field ? error.field + ': ' : '') + error.message;
    });
  }

  // One pool: its connections and its access log.
  function poolName() { return decodeURIComponent(location.pathname.slice('/pools/'.length)); }

  function accessQuery(name) {
    var params = new URLSearchParams({ pool: name, limit: '200' });
    var status = $('filter-status').value.trim();
    if (status) params.set('status', status);
    if ($('filter-decision').value) params.set('decision', $('filter-decision').value);
    if ($('filter-outcome').value) params.set('outcome', $('filter-outcome').value);
    if ($('filter-since').value) params.set('since', String(Date.now() - Number($('filter-since').value) * 1000));
    return params.toString();
  }

  function loadPool() {
    var name = poolName();
    return Promise.all([
      api('GET', '/api/v1/pools/' + encodeURIComponent(name)),
      api('GET', '/api/v1/pools/' + encodeURIComponent(name) + '/connections'),
      api('GET', '/api/v1/access-log?' + accessQuery(name)).then(function (data) { $('filter-error').textContent = ''; return data; }, function (error) {
        if (error.status === 400) { $('filter-error').textContent = error.message; return null; }
        throw error;
      }),
    ]).then(function (results) {
      var pool = results[0].pool;
      document.title = pool.name + ' · VCS Agent Pools';
      $('crumb-name').textContent = pool.name;
      $('pool-title').textContent = pool.name;
      $('pool-description').textContent = pool.description || 'No description.';
      $('pool-connections').textContent = pool.connections;
      $('pool-streams').textContent = pool.streamsBusy + ' / ' + pool.streamsIdle;
      $('pool-queued').textContent = pool.queued;
      $('pool-key').textContent = pool.keyGeneration + (pool.previousKeyExpiresAt ? ' (previous key valid until ' + time(pool.previousKeyExpiresAt) + ')' : '');
      $('pool-id').textContent = pool.id;
      // Fill the description field once per pool, never under the operator's typing.
      if (describedPool !== pool.id) { $('describe-input').value = pool.description; describedPool = pool.id; }
      fill('connections-table', 'connections-empty', results[1].connections.map(function (c) {
        var tags = document.createElement('td');
        Object.keys(c.metadata).sort().forEach(function (key) { tags.appendChild(el('span', key + '=' + c.metadata[key], 'chip')); });
        var agent = td(c.agentId + (c.replica ? ' @ ' + c.replica : ''), 'mono');
        if (c.draining) agent.appendChild(el('span', ' draining', 'chip'));
        var tr = row([agent, td(c.remoteAddress, 'mono'), td(time(c.connectedAt)), td(c.vendor), td(c.agentVersion), tags,
          td(c.streamsBusy + ' / ' + c.streamsIdle, 'num'), td(c.requestsServed, 'num'), td(c.protocol || 'vcs-agent')]);
        tr.dataset.connection = c.id;
        return tr;
      }));
      if (results[2] !== null) {
        fill('access-table', 'access-empty', results[2].entries.map(function (e) {
          var tr = row([td(time(e.time)), td(e.method, 'mono'), td(e.path, 'mono path'), td(e.status === 0 ? '—' : e.status, 'num status-' + String(e.status).charAt(0)),
            td(e.decision, 'decision-' + e.decision), td(bytes(e.bytesIn) + ' / ' + bytes(e.bytesOut), 'num'), td(e.durationMs.toFixed(1) + ' ms', 'num'),
            td((e.agentId || '—') + where(e), 'mono'), td(e.errorCode ? e.outcome + ' · ' + e.errorCode : e.outcome, 'outcome-' + e.outcome), td(e.requestId, 'mono')]);
          tr.dataset.requestId = e.requestId;
          return tr;
        }));
      }
      setLive($('filter-live').checked, $('filter-live').checked ? 'Live · ' + new Date().toLocaleTimeString() : 'Paused');
    }).catch(function (error) {
      if (error.status === 404) { show('not-found'); return; }
      setLive(false, 'Paused: ' + error.message);
      throw error;
    });
  }

  var describedPool = null;

  function manageError(error) {
    $('manage-error').textContent = (error.field ? error.field + ': ' : '') + error.message;
  }

  function onDescribe(event) {
    event.preventDefault();
    $('manage-error').textContent = '';
    api('PATCH', '/api/v1/pools/' + encodeURIComponent(poolName()), { description: $('describe-input').value }).then(function () {
      $('manage-result').textContent = 'Description saved.';
      $('manage-result').hidden = false;
      return loadPool();
    }).catch(manageError);
  }

  function onRotate(event) {
    event.preventDefault();
    $('manage-error').textContent = '';
    var grace = Number($('rotate-grace').value);
    api('POST', '/api/v1/pools/' + encodeURIComponent(poolName()) + '/rotate', { graceSeconds: grace }).then(function (data) {
      var file = data.pool.name + '.token';
      download(file, data.token);
      $('manage-result').textContent = 'New key (generation ' + data.pool.keyGeneration + '): its token was downloaded as ' + file + ', shown only this once. ' +
        (grace === 0 ? 'Agents still on the old key are being disconnected.' : 'The old key works until ' + time(data.previousKeyExpiresAt) + '.');
      $('manage-result').hidden = false;
      return loadPool();
    }).catch(manageError);
  }

  function onDelete() {
    var name = poolName();
    if (!window.confirm('Delete pool "' + name + '"? Its agents are disconnected and refused, and its token stops working.')) return;
    api('DELETE', '/api/v1/pools/' + encodeURIComponent(name)).then(function () { location.assign('/'); }).catch(manageError);
  }

  function poolLoop() {
    return $('filter-live').checked ? loadPool() : Promise.resolve();
  }

  function route() {
    if (!token()) { show('sign-in'); $('token-input').focus(); return; }
    if (location.pathname.indexOf('/pools/') === 0) {
      show('pool-view');
      loadPool().then(function () { schedule(poolLoop, POOL_REFRESH_MS); }, function () { schedule(poolLoop, POOL_REFRESH_MS); });
    } else {
      show('pools-view');
      loadPools().then(function () { schedule(loadPools, POOLS_REFRESH_MS); }, function () { schedule(loadPools, POOLS_REFRESH_MS); });
    }
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('sign-in-form').addEventListener('submit', function (event) {
      event.preventDefault();
      var value = $('token-input').value.trim();
      $('sign-in-error').textContent = '';
      sessionStorage.setItem(TOKEN_KEY, value);
      api('GET', '/api/v1/pools').then(function () { $('token-input').value = ''; route(); }, function (error) {
        sessionStorage.removeItem(TOKEN_KEY);
        $('sign-in-error').textContent = error.status === 401 ? 'That token was refused.' : error.message;
        show('sign-in');
      });
    });
    $('sign-out').addEventListener('click', function () { sessionStorage.removeItem(TOKEN_KEY); show('sign-in'); });
    $('create-form').addEventListener('submit', onCreate);
    $('describe-form').addEventListener('submit', onDescribe);
    $('rotate-form').addEventListener('submit', onRotate);
    $('delete-button').addEventListener('click', onDelete);
    $('filter-form').addEventListener('submit', function (event) { event.preventDefault(); loadPool().catch(function () {}); });
    ['filter-status', 'filter-decision', 'filter-outcome', 'filter-since', 'filter-live'].forEach(function (id) {
      $(id).addEventListener('change', function () { loadPool().catch(function () {}); });
    });
    route();
  });
})();
`;
