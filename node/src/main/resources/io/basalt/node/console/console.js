// Basalt's web console: a small static app over the management API (docs/decisions/web-console.md).
// No build step and no libraries: every request is a fetch with the bearer token kept in this
// tab's sessionStorage; every action is one API call, the destructive ones behind confirm().
'use strict';

const TOKEN_KEY = 'basalt.token';
const REFRESH_MS = 5000;
const METRICS_POLL_MS = 2000;
const CHART_POINTS_MAX = 60;
const PAGES = ['health', 'vdisks', 'targets', 'locks', 'hosts', 'mirrors', 'jobs'];

const $ = (id) => document.getElementById(id);
let refreshTimer = null;
let metricsTimer = null;
/** Rates of I/O between polls of /metrics: [{t, read, write, readLatencyMs, writeLatencyMs, byVdisk}]. */
let ioSamples = [];
let lastScrape = null;

// ---- the API ------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: 'Bearer ' + sessionStorage.getItem(TOKEN_KEY) };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
  }
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) {
    let detail = text;
    try { detail = JSON.parse(text).detail || text; } catch (e) { /* not problem+json: show the text */ }
    if (r.status === 401) {
      logout(method + ' ' + path + ': ' + detail);
    }
    throw new ApiError(r.status, method + ' ' + path + ': ' + r.status + ' ' + detail);
  }
  return text === '' ? null : (r.headers.get('Content-Type') || '').includes('json') ? JSON.parse(text) : text;
}

// ---- formatting ---------------------------------------------------------------------------

function esc(v) {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function bytes(n) {
  if (n === null || n === undefined) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + ' ' + units[i];
}

/** "64M", "10G", "512K", "4096": bytes, or NaN. */
function parseSize(text) {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGTP]?)(?:i?B)?\s*$/i.exec(text);
  if (!m) return NaN;
  return Math.round(parseFloat(m[1]) * Math.pow(1024, ' KMGTP'.indexOf(m[2].toUpperCase() || ' ')));
}

function time(ms) {
  return ms ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '';
}

function table(headers, rows, attrs) {
  const head = headers.map((h) => '<th' + (h.endsWith('#') ? ' class="num">' + esc(h.slice(0, -1)) : '>' + esc(h)) + '</th>').join('');
  return '<table' + (attrs ? ' ' + attrs : '') + '><thead><tr>' + head + '</tr></thead><tbody>'
    + (rows.length ? rows.join('') : '<tr><td colspan="' + headers.length + '" class="muted">none</td></tr>') + '</tbody></table>';
}

const num = (v) => '<td class="num">' + esc(v) + '</td>';
const button = (label, action, data, danger) => '<button type="button" data-action="' + action + '"'
  + Object.entries(data).map(([k, v]) => ' data-' + k + '="' + esc(v) + '"').join('') + (danger ? ' class="danger"' : '') + '>' + esc(label) + '</button>';

// ---- pages --------------------------------------------------------------------------------

async function healthPage() {
  const [cluster, nodes] = await Promise.all([api('GET', '/api/cluster'), api('GET', '/api/nodes')]);
  const up = new Map((cluster.nodes || []).map((n) => [n.id, n]));
  const nodeRows = nodes.map((n) => {
    const s = up.get(n.id);
    const state = s ? (s.up ? 'up' : 'DOWN' + (s.reason ? ': ' + s.reason : '')) : (n.up === false ? 'DOWN' : 'up');
    return '<tr><td>' + n.id + '</td><td>' + esc(n.address) + '</td><td class="health-' + (state === 'up' ? 'OK' : 'DOWN') + '">' + esc(state)
      + '</td>' + num(bytes(n.freeBytes)) + num(n.reserveBytes === null ? '' : bytes(n.reserveBytes)) + num(bytes(n.totalBytes)) + '</tr>';
  });
  const groupRows = (cluster.groups || []).map((g) => '<tr><td>' + esc(g.name) + '</td><td class="health-' + esc(g.health) + '">'
    + esc(g.health) + '</td><td>' + esc(g.why || '') + '</td><td>' + esc(g.leader ?? 'none') + '</td>' + num(g.term) + num(g.commitIndex)
    + '<td>' + g.replicas.map((r) => esc(r.nodeId) + (r.leader ? '*' : '') + (r.up ? '' : ' (down)') + (r.lag ? ' lag ' + r.lag : '')).join(', ')
    + '</td></tr>');
  return '<h1>Cluster <span id="cluster-name">' + esc(cluster.name) + '</span> (' + esc(cluster.mode) + '): <span id="cluster-health" class="health-'
    + esc(cluster.health) + '">' + esc(cluster.health) + '</span></h1>'
    + '<h2>Nodes</h2>' + table(['id', 'address', 'state', 'free#', 'reserve#', 'total#'], nodeRows, 'id="nodes"')
    + (cluster.mode === 'cluster' ? '<h2>Groups</h2>' + table(['group', 'health', 'why', 'leader', 'term#', 'commit index#', 'replicas (* leader)'],
      groupRows, 'id="groups"') : '')
    + '<h2>I/O on this node</h2><div class="charts">'
    + '<div class="chart"><div>Throughput <span class="legend-read">read</span> / <span class="legend-write">write</span>: <span id="io-now"></span></div>'
    + '<canvas id="io-chart" width="420" height="120"></canvas></div>'
    + '<div class="chart"><div>Mean latency <span class="legend-read">read</span> / <span class="legend-write">write</span>: <span id="lat-now"></span></div>'
    + '<canvas id="lat-chart" width="420" height="120"></canvas></div></div>'
    + '<div id="io-by-vdisk"></div>';
}

async function vdisksPage() {
  const vdisks = await api('GET', '/api/vdisks');
  const snaps = await Promise.all(vdisks.map((v) => v.snapshotCount ? api('GET', '/api/vdisks/' + encodeURIComponent(v.name) + '/snapshots') : []));
  const clonesOf = new Map();
  vdisks.filter((v) => v.parent).forEach((v) => clonesOf.set(v.parent, (clonesOf.get(v.parent) || []).concat(v.name)));
  const rows = [];
  vdisks.forEach((v, i) => {
    const d = { vdisk: v.name };
    rows.push('<tr class="vdisk" data-vdisk="' + esc(v.name) + '"><td class="name">' + esc(v.name) + '</td>' + '<td class="num size">' + bytes(v.sizeBytes)
      + '</td><td class="num used">' + bytes(v.usedBytes) + '</td><td class="num stored">' + bytes(v.storedBytes) + '</td>'
      + '<td>' + esc(v.parent ? 'clone of ' + v.parent : '') + (v.rollingBackTo ? ' rolling back to ' + esc(v.rollingBackTo) : '') + '</td><td>'
      + button('Snapshot', 'snapshot', d) + ' ' + button('Resize', 'resize', d) + ' '
      + (v.parent ? button('Flatten', 'flatten', d) + ' ' : '') + button('Delete', 'delete-vdisk', d, true) + '</td></tr>');
    snaps[i].forEach((s) => {
      const ds = { vdisk: v.name, snap: s.name };
      const clones = clonesOf.get(v.name + '@' + s.name) || [];
      rows.push('<tr class="snapshot" data-snap="' + esc(v.name + '@' + s.name) + '"><td class="name">@' + esc(s.name) + '</td><td class="num size">'
        + bytes(s.sizeBytes) + '</td><td colspan="2" class="muted">' + esc(time(s.createdMs)) + '</td><td>'
        + (clones.length ? 'clones: ' + clones.map(esc).join(', ') : '') + '</td><td>'
        + button('Clone', 'clone', ds) + ' ' + button('Roll back', 'rollback', ds, true) + ' ' + button('Delete', 'delete-snap', ds, true) + '</td></tr>');
    });
  });
  return '<h1>Vdisks</h1><p><button id="new-vdisk" type="button" data-action="create">Create vdisk</button></p>'
    + table(['vdisk / @snapshot', 'size#', 'used#', 'stored#', 'lineage', 'actions'], rows, 'id="vdisks"')
    + '<p class="muted">used: the grains the vdisk maps itself now (not through its parent); stored: the bytes on disk of every version it keeps, snapshots included.'
    + ' A snapshot\'s size is the vdisk\'s size when it was taken.</p>';
}

async function targetsPage() {
  const targets = await api('GET', '/api/targets');
  return '<h1>iSCSI targets</h1>' + table(['iqn', 'LUNs', 'initiators', 'CHAP'], targets.map((t) => '<tr><td>' + esc(t.iqn) + '</td><td>'
    + Object.entries(t.luns).map(([n, v]) => esc(n + ': ' + v)).join('<br>') + '</td><td>' + (t.initiators.length ? t.initiators.map(esc).join('<br>') : 'any')
    + '</td><td>' + esc(t.chap ? t.chap.user + (t.chap.mutualUser ? ' (mutual: ' + t.chap.mutualUser + ')' : '') : 'none') + '</td></tr>'), 'id="targets"');
}

async function locksPage() {
  const locks = await api('GET', '/api/locks');
  return '<h1>Vdisk locks</h1>' + table(['vdisk', 'fence#', 'last token#', 'holders'], locks.map((l) => '<tr><td>' + esc(l.vdisk) + '</td>' + num(l.fence)
    + num(l.lastToken) + '<td>' + l.holders.map((h) => esc(h.host + ' (session ' + h.session + ', ' + h.mode + ', token ' + h.token + ')')).join('<br>')
    + '</td></tr>'), 'id="locks"');
}

async function hostsPage() {
  const [hosts, vms] = await Promise.all([api('GET', '/api/hosts'), api('GET', '/api/vms')]);
  const hostRows = hosts.map((h) => '<tr><td>' + esc(h.name) + '</td><td>' + esc(h.agent ? h.agent.vcpus + ' vCPUs, ' + h.agent.memoryMiB + ' MiB'
    + (h.agent.maintenance ? ', in maintenance' : '') : 'initiator only') + '</td><td>' + h.sessions.map((s) => esc('session ' + s.session
    + ': lease ' + s.leaseMs + ' ms, renewed ' + s.leaseAgeMs + ' ms ago' + (s.locks.length ? ', holds ' + s.locks.join(', ') : ''))).join('<br>') + '</td><td>'
    + (!h.agent ? '' : h.agent.maintenance ? button('End maintenance', 'exit-maintenance', { host: h.name })
      : button('Maintenance', 'maintenance', { host: h.name }, true)) + '</td></tr>');
  const vmRows = vms.map((v) => '<tr><td>' + esc(v.name) + '</td><td>' + esc(v.state) + (v.message ? ' <span class="muted">' + esc(v.message) + '</span>' : '')
    + '</td><td>' + esc(v.desired) + '</td><td>' + esc(v.host || '') + '</td>' + num(v.vcpus) + num(v.memoryMiB + ' MiB') + '<td>' + v.disks.map(esc).join(', ')
    + '</td><td>' + (v.desired === 'RUNNING'
      ? button('Migrate', 'migrate', { vm: v.name }) + ' ' + button('Stop', 'stop', { vm: v.name }, true) + ' ' + button('Kill', 'kill', { vm: v.name }, true)
      : button('Start', 'start', { vm: v.name })) + '</td></tr>');
  return '<h1>Hosts</h1>' + table(['host', 'agent', 'lock sessions', 'actions'], hostRows, 'id="hosts"')
    + '<h1>VMs</h1>' + table(['vm', 'state', 'desired', 'host', 'vCPUs#', 'memory#', 'disks', 'actions'], vmRows, 'id="vms"');
}

async function mirrorsPage() {
  const [mirrors, groups] = await Promise.all([api('GET', '/api/mirrors'), api('GET', '/api/mirror-groups')]);
  const rpo = (s) => s < 0 ? 'none yet' : s.toFixed(1) + ' s';
  return '<h1>Mirrors</h1>' + table(['vdisk', 'role', 'peer site', 'state', 'last complete snapshot', 'RPO#', 'behind#', 'throughput#', 'actions'],
    mirrors.map((m) => '<tr><td>' + esc(m.vdisk) + '</td><td>' + esc(m.role) + '</td><td>' + esc(m.peer || '') + '</td><td>' + esc(m.state)
      + (m.error ? ' <span class="muted">' + esc(m.error) + '</span>' : '') + '</td><td>' + esc(m.lastSnapshot || '') + '</td>' + num(rpo(m.lagSeconds))
      + num(m.lagBytes < 0 ? '' : bytes(m.lagBytes)) + num(m.throughputBytesPerSecond ? bytes(m.throughputBytesPerSecond) + '/s' : '') + '<td>'
      + (m.role === 'replica' ? button('Fail over (planned)', 'failover-planned', { vdisk: m.vdisk }, true) + ' '
        + button('Fail over (site lost)', 'failover', { vdisk: m.vdisk }, true) : '')
      + (m.state === 'SPLIT_BRAIN' ? button('Fail back, discarding this copy', 'failback-discard', { vdisk: m.vdisk }, true) : '') + '</td></tr>'),
    'id="mirrors"')
    + '<h1>Consistency groups</h1>' + table(['group', 'role', 'peer site', 'consistent round', 'vdisks', 'actions'],
      groups.map((g) => '<tr><td>' + esc(g.group) + '</td><td>' + esc(g.role) + '</td><td>' + esc(g.peer) + '</td><td>'
        + esc(g.consistentSnapshot || '') + '</td><td>' + g.vdisks.map(esc).join(', ') + '</td><td>'
        + (g.role === 'replica' ? button('Fail group over (planned)', 'group-failover-planned', { group: g.group }, true) + ' '
          + button('Fail group over (site lost)', 'group-failover', { group: g.group }, true) : '') + '</td></tr>'),
      'id="mirror-groups"')
    + '<p class="muted">RPO: the age of the newest snapshot the replica holds complete. A failover is asked at the site that takes over;'
    + ' a planned one ships the last writes first and loses nothing. A group fails over whole, at the newest round all its replicas hold.</p>';
}

async function jobsPage() {
  const jobs = await api('GET', '/api/jobs');
  return '<h1>Jobs</h1>' + table(['id', 'kind', 'on', 'state', 'progress#', 'started', 'error'], jobs.slice().reverse().map((j) => '<tr><td>' + esc(j.id)
    + '</td><td>' + esc(j.kind) + '</td><td>' + esc(j.target) + '</td><td>' + esc(j.state.toLowerCase()) + '</td>'
    + num(j.total ? Math.floor(100 * j.done / j.total) + '% of ' + j.total + ' ' + j.unit : '') + '<td>' + esc(time(j.startedMs)) + '</td><td>'
    + esc(j.error || '') + '</td></tr>'), 'id="jobs"');
}

const RENDER = { health: healthPage, vdisks: vdisksPage, targets: targetsPage, locks: locksPage, hosts: hostsPage, mirrors: mirrorsPage, jobs: jobsPage };

function currentPage() {
  const p = location.hash.slice(1);
  return PAGES.includes(p) ? p : 'health';
}

/** Renders the current page; unless a dialog is open (it would lose what is being typed). */
async function show() {
  clearTimeout(refreshTimer);
  if (!sessionStorage.getItem(TOKEN_KEY)) return;
  const page = currentPage();
  document.querySelectorAll('#nav a').forEach((a) => a.classList.toggle('current', a.getAttribute('href') === '#' + page));
  if (!$('dialog').open) {
    try {
      const html = await RENDER[page]();
      if (page === currentPage() && !$('dialog').open) {
        $('main').innerHTML = html;
        $('main').dataset.page = page;
        drawCharts();
      }
    } catch (e) {
      showError(e);
    }
  }
  refreshTimer = setTimeout(show, REFRESH_MS);
}

function showError(e) {
  $('error').textContent = e.message;
  $('error').hidden = !e.message;
}

// ---- actions ------------------------------------------------------------------------------

/** Opens the dialog with {name: label} fields; resolves to their values, or null on cancel. */
function ask(title, fields) {
  $('dialog-title').textContent = title;
  $('dialog-fields').innerHTML = Object.entries(fields).map(([name, label]) =>
    '<label>' + esc(label) + ' <input name="' + esc(name) + '" required></label>').join('');
  return new Promise((resolve) => {
    const form = $('dialog-form');
    const done = (values) => { form.onsubmit = null; $('dialog-cancel').onclick = null; $('dialog').close(); resolve(values); };
    form.onsubmit = (ev) => {
      ev.preventDefault();
      done(Object.fromEntries(Object.keys(fields).map((n) => [n, form.elements[n].value.trim()])));
    };
    $('dialog-cancel').onclick = () => done(null);
    $('dialog').showModal();
  });
}

function sizeOf(text) {
  const n = parseSize(text);
  if (!(n > 0)) throw new Error('size: ' + text + ' (expected: a positive size such as 64M, 10G or 1073741824)');
  return n;
}

const path = (d) => '/api/vdisks/' + encodeURIComponent(d.vdisk) + (d.snap ? '/snapshots/' + encodeURIComponent(d.snap) : '');

const vmPath = (d) => '/api/vms/' + encodeURIComponent(d.vm);
const mirrorPath = (d) => '/api/mirrors/' + encodeURIComponent(d.vdisk);
const groupPath = (d) => '/api/mirror-groups/' + encodeURIComponent(d.group);
const hostPath = (d) => '/api/hosts/' + encodeURIComponent(d.host);

async function act(action, d) {
  switch (action) {
    case 'create': {
      const f = await ask('Create vdisk', { name: 'Name', size: 'Size (e.g. 10G)' });
      return f && api('POST', '/api/vdisks', { name: f.name, sizeBytes: sizeOf(f.size) });
    }
    case 'snapshot': {
      const f = await ask('Snapshot of ' + d.vdisk, { name: 'Snapshot name' });
      return f && api('POST', path(d) + '/snapshots', { name: f.name });
    }
    case 'clone': {
      const f = await ask('Clone ' + d.vdisk + '@' + d.snap + ' to a new vdisk', { name: 'New vdisk name' });
      return f && api('POST', path(d) + '/clones', { name: f.name });
    }
    case 'resize': {
      const f = await ask('Resize ' + d.vdisk, { size: 'New size (e.g. 20G)' });
      return f && confirm('Resize vdisk ' + d.vdisk + ' to ' + bytes(sizeOf(f.size)) + '?') && api('PATCH', path(d), { sizeBytes: sizeOf(f.size) });
    }
    case 'flatten':
      return api('POST', path(d) + '/flatten').then(() => { location.hash = '#jobs'; });
    case 'rollback':
      return confirm('Roll vdisk ' + d.vdisk + ' back to snapshot ' + d.snap + '? What was written since is lost.') && api('POST', path(d) + '/rollback');
    case 'delete-snap':
      return confirm('Delete snapshot ' + d.vdisk + '@' + d.snap + '?') && api('DELETE', path(d));
    case 'delete-vdisk':
      return confirm('Delete vdisk ' + d.vdisk + ' and all its data?') && api('DELETE', path(d));
    case 'start':
      return api('POST', vmPath(d) + '/start', {});
    case 'stop':
      return confirm('Stop vm ' + d.vm + '? Its guest is asked to power down.') && api('POST', vmPath(d) + '/stop', {});
    case 'kill':
      return confirm('Kill vm ' + d.vm + '? Like pulling the power cord: what its guest had not written is lost.')
        && api('POST', vmPath(d) + '/stop', { kill: true });
    case 'migrate': {
      const f = await ask('Migrate vm ' + d.vm + ' live', { to: 'To host' });
      return f && api('POST', vmPath(d) + '/migrate', { to: f.to }).then(() => { location.hash = '#jobs'; });
    }
    case 'maintenance':
      return confirm('Put host ' + d.host + ' in maintenance? Every VM it runs is migrated live to the other hosts.')
        && api('POST', hostPath(d) + '/maintenance').then(() => { location.hash = '#jobs'; });
    case 'failover-planned':
      return confirm('Fail ' + d.vdisk + ' over to this site? The other site ships its last writes, then stops writing it.')
        && api('POST', mirrorPath(d) + '/failover', { planned: true }).then(() => { location.hash = '#jobs'; });
    case 'failover':
      return confirm('The other site is lost: make this site\'s replica of ' + d.vdisk + ' the primary at its last complete snapshot?'
        + ' What the other site wrote since is not here.') && api('POST', mirrorPath(d) + '/failover', { planned: false }).then(() => { location.hash = '#jobs'; });
    case 'failback-discard':
      return confirm('Revert ' + d.vdisk + ' here to the last snapshot both sites hold and take the other site\'s copy? This site\'s writes since are lost.')
        && api('POST', mirrorPath(d) + '/failback', { discardLocal: true }).then(() => { location.hash = '#jobs'; });
    case 'group-failover-planned':
      return confirm('Fail group ' + d.group + ' over to this site? The other site ships its last writes of each member, then stops writing them.')
        && api('POST', groupPath(d) + '/failover', { planned: true }).then(() => { location.hash = '#jobs'; });
    case 'group-failover':
      return confirm('The other site is lost: make this site\'s replicas of group ' + d.group + ' primary at the newest round all of them hold?'
        + ' What the other site wrote since is not here.') && api('POST', groupPath(d) + '/failover', { planned: false }).then(() => { location.hash = '#jobs'; });
    case 'exit-maintenance':
      return api('DELETE', hostPath(d) + '/maintenance');
    default:
      throw new Error('action: ' + action + ' (expected: one the console offers)');
  }
}

document.addEventListener('click', async (ev) => {
  const b = ev.target.closest('button[data-action]');
  if (!b) return;
  showError({ message: '' });
  try {
    await act(b.dataset.action, { vdisk: b.dataset.vdisk, snap: b.dataset.snap, vm: b.dataset.vm, host: b.dataset.host, group: b.dataset.group });
  } catch (e) {
    showError(e);
  }
  show();
});

// ---- live I/O from /metrics ---------------------------------------------------------------

/** Sums of each I/O series by op and by vdisk from Prometheus text (format 0.0.4). */
function parseIo(text) {
  const s = { bytes: { read: 0, write: 0 }, latSum: { read: 0, write: 0 }, latCount: { read: 0, write: 0 }, byVdisk: {} };
  const line = /^(basalt_io_bytes_total|basalt_io_latency_seconds_sum|basalt_io_latency_seconds_count)\{([^}]*)\}\s+(\S+)/;
  for (const l of text.split('\n')) {
    const m = line.exec(l);
    if (!m) continue;
    const labels = Object.fromEntries([...m[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    const op = labels.op === 'read' ? 'read' : 'write';
    const v = parseFloat(m[3]);
    if (m[1] === 'basalt_io_bytes_total') {
      s.bytes[op] += v;
      const b = s.byVdisk[labels.vdisk] || (s.byVdisk[labels.vdisk] = { read: 0, write: 0 });
      b[op] += v;
    } else {
      (m[1].endsWith('_sum') ? s.latSum : s.latCount)[op] += v;
    }
  }
  return s;
}

async function pollMetrics() {
  try {
    if (sessionStorage.getItem(TOKEN_KEY) && currentPage() === 'health') {
      const now = { t: Date.now(), ...parseIo(await api('GET', '/metrics')) };
      if (lastScrape) {
        const dt = (now.t - lastScrape.t) / 1000;
        const rate = (a, b) => Math.max(0, (a - b) / dt);
        const lat = (op) => {
          const n = now.latCount[op] - lastScrape.latCount[op];
          return n > 0 ? 1000 * (now.latSum[op] - lastScrape.latSum[op]) / n : 0;
        };
        const byVdisk = Object.fromEntries(Object.entries(now.byVdisk).map(([v, b]) => {
          const p = lastScrape.byVdisk[v] || { read: 0, write: 0 };
          return [v, { read: rate(b.read, p.read), write: rate(b.write, p.write) }];
        }));
        ioSamples.push({ t: now.t, read: rate(now.bytes.read, lastScrape.bytes.read), write: rate(now.bytes.write, lastScrape.bytes.write),
          readLatencyMs: lat('read'), writeLatencyMs: lat('write'), byVdisk });
        ioSamples = ioSamples.slice(-CHART_POINTS_MAX);
      }
      lastScrape = now;
      drawCharts();
    }
  } catch (e) {
    showError(e);
  }
  metricsTimer = setTimeout(pollMetrics, METRICS_POLL_MS);
}

/** Lines of {color, values} scaled to the largest value, written top left through unit(). */
function drawChart(canvas, series, unit) {
  const g = canvas.getContext('2d');
  g.clearRect(0, 0, canvas.width, canvas.height);
  g.strokeStyle = '#dde1e4';
  g.strokeRect(0.5, 0.5, canvas.width - 1, canvas.height - 1);
  const max = Math.max(1e-9, ...series.flatMap((s) => s.values));
  g.fillStyle = '#6a747c';
  g.font = '11px system-ui, sans-serif';
  g.fillText('max ' + unit(max), 4, 12);
  const x = (i) => canvas.width - 2 - (CHART_POINTS_MAX - 1 - i) * (canvas.width - 4) / (CHART_POINTS_MAX - 1);
  for (const s of series) {
    const offset = CHART_POINTS_MAX - s.values.length;
    g.strokeStyle = s.color;
    g.beginPath();
    s.values.forEach((v, i) => {
      const y = canvas.height - 2 - v / max * (canvas.height - 6);
      if (i === 0) g.moveTo(x(i + offset), y); else g.lineTo(x(i + offset), y);
    });
    g.stroke();
  }
}

function drawCharts() {
  const io = $('io-chart');
  if (!io) return;
  const last = ioSamples[ioSamples.length - 1];
  drawChart(io, [{ color: '#1f6fb5', values: ioSamples.map((s) => s.read) }, { color: '#c4501b', values: ioSamples.map((s) => s.write) }],
    (v) => bytes(v) + '/s');
  drawChart($('lat-chart'), [{ color: '#1f6fb5', values: ioSamples.map((s) => s.readLatencyMs) },
    { color: '#c4501b', values: ioSamples.map((s) => s.writeLatencyMs) }], (v) => v.toFixed(2) + ' ms');
  $('io-now').textContent = last ? bytes(last.read) + '/s / ' + bytes(last.write) + '/s' : 'waiting for two samples';
  $('lat-now').textContent = last ? last.readLatencyMs.toFixed(2) + ' ms / ' + last.writeLatencyMs.toFixed(2) + ' ms' : '';
  const rows = last ? Object.entries(last.byVdisk).map(([v, r]) => '<tr><td>' + esc(v) + '</td>' + num(bytes(r.read) + '/s') + num(bytes(r.write) + '/s') + '</tr>') : [];
  $('io-by-vdisk').innerHTML = table(['vdisk served here', 'read#', 'write#'], rows, 'id="io-vdisks"');
}

// ---- log in and out -----------------------------------------------------------------------

function logout(why) {
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(refreshTimer);
  $('main').innerHTML = '';
  showSignedIn(false);
  showError({ message: why || '' });
}

function showSignedIn(yes) {
  $('login-box').hidden = yes;
  $('main').hidden = !yes;
  $('nav').hidden = !yes;
  $('logout').hidden = !yes;
}

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
  try {
    await api('GET', '/api/cluster');
    $('token').value = '';
    showError({ message: '' });
    showSignedIn(true);
    show();
  } catch (e) {
    if (e.status !== 401) showError(e);
  }
});

$('logout').addEventListener('click', () => logout(''));
window.addEventListener('hashchange', show);
showSignedIn(!!sessionStorage.getItem(TOKEN_KEY));
show();
pollMetrics();
