// The coordinators' dashboard: plain ES module, no build step. Everything it shows comes from /api
// with the key pasted at sign-in; what it offers depends on the key's role (the API checks again).
import * as L from '/vendor/leaflet/leaflet-src.esm.js';

const KEY = 'asp-api-key';
const $ = (selector) => document.querySelector(selector);

// What each role may see and do (the API enforces it; the dashboard only hides what would fail).
const CAN = {
  seeMap: ['admin', 'rule-author', 'coordinator', 'approver'],
  seeLists: ['admin', 'coordinator', 'approver', 'partner'],
  decide: ['admin', 'coordinator'],
  generate: ['coordinator'],
  approve: ['approver'],
  release: ['approver', 'admin'],
  download: ['coordinator', 'approver', 'admin', 'partner'],
};
const can = (action) => CAN[action].includes(state.me?.role);

const state = { me: null, config: null, map: null, layers: {}, activations: [], lists: [], partners: [] };

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/** Builds an element; children are nodes or text (never parsed as HTML). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'className') el.className = value;
    else el.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) el.append(child);
  return el;
}

const day = (iso) => (iso ? String(iso).slice(0, 10) : '—');
const time = (iso) => (iso ? String(iso).slice(0, 16).replace('T', ' ') : 'never');
const num = (n, digits = 2) => (n === null || n === undefined ? '—' : Number(n).toLocaleString('en', { maximumFractionDigits: digits }));
const money = (n, currency) => `${Number(n ?? 0).toLocaleString('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}${currency ? ` ${currency}` : ''}`;

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `the server answered ${status}`);
    this.status = status;
    this.code = body?.error?.code ?? 'http_' + status;
    this.details = body?.error?.details ?? [];
  }
}

/** Calls the API with the key; throws an ApiError with the API's message on any non-2xx answer. */
async function api(path, { method = 'GET', body, raw = false } = {}) {
  const headers = { Accept: raw ? '*/*' : 'application/json' };
  const key = sessionStorage.getItem(KEY);
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!response.ok) {
    const text = await response.text();
    let parsed = null;
    try { parsed = JSON.parse(text); } catch { /* not JSON: the status says enough */ }
    throw new ApiError(response.status, parsed);
  }
  return raw ? response : response.json();
}

function showError(error) {
  const box = $('#message');
  const details = Array.isArray(error.details) ? error.details : error.details ? [error.details] : [];
  box.replaceChildren(
    h('button', { type: 'button', className: 'dismiss', onclick: () => (box.hidden = true) }, 'Dismiss'),
    h('strong', {}, error.status ? `Error ${error.status}${error.code ? ` (${error.code})` : ''}: ` : 'Error: '),
    error.message,
    h('ul', { hidden: details.length === 0 }, details.map((d) => h('li', {}, typeof d === 'string' ? d : [d.path, d.message].filter(Boolean).join(': ') || JSON.stringify(d)))),
  );
  box.hidden = false;
}

function showNotice(text) {
  const box = $('#notice');
  box.textContent = text;
  box.hidden = false;
  $('#message').hidden = true;
}

/** Runs a user action: the button is disabled meanwhile; errors go to the message area. */
async function act(button, work) {
  button.disabled = true;
  try {
    await work();
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Sign in and out
// ---------------------------------------------------------------------------------------------

async function signIn() {
  try {
    state.me = await api('/api/me');
  } catch (error) {
    sessionStorage.removeItem(KEY);
    showSignin();
    showError(error.status === 401 ? Object.assign(error, { message: `${error.message} — check the key and paste it again.` }) : error);
    return;
  }
  state.config = await api('/api/config').catch(() => ({ tileUrl: null, tileAttribution: null }));
  $('#signin').hidden = true;
  $('#session').hidden = false;
  $('#who').textContent = `${state.me.label} · ${state.me.role}${state.me.partnerId ? ` (partner ${state.me.partnerId})` : ''}`;
  document.body.dataset.role = state.me.role;
  $('#app').hidden = false;
  const seesMap = can('seeMap');
  $('#map-panel').hidden = !seesMap;
  $('#feeds-panel').hidden = !seesMap;
  $('#activations-panel').hidden = !seesMap;
  $('#lists-panel').hidden = !can('seeLists');
  $('#app').classList.toggle('lists-only', !seesMap);
  if (seesMap) setUpMap();
  await refresh();
}

function showSignin() {
  $('#signin').hidden = false;
  $('#session').hidden = true;
  $('#app').hidden = true;
  $('#key').value = '';
  $('#key').focus();
}

async function refresh() {
  // The release form lists the partners: they are loaded before the lists are drawn.
  const partners = can('release') ? loadPartners() : Promise.resolve();
  const loads = [partners];
  if (can('seeLists')) loads.push(partners.catch(() => {}).then(loadLists));
  if (can('seeMap')) loads.push(loadFeeds(), loadActivations(), loadMapLayers());
  const results = await Promise.allSettled(loads);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) showError(failed.reason);
  if (can('seeMap')) colourAreas();
}

// ---------------------------------------------------------------------------------------------
// Map: admin areas coloured by activation stage, footprints of open events, a legend
// ---------------------------------------------------------------------------------------------

// The rule's most severe tier (or a rule without tiers) is red, its other activation tiers orange.
const isHighTier = (a) => a.tierSeverity === null || a.tierSeverity === undefined || a.tierSeverity >= a.maxSeverity;
const STYLE = {
  none: { color: '#777', weight: 1, fillOpacity: 0, fill: true },
  readiness: { color: '#8a7400', weight: 1.5, fillColor: '#ffd600', fillOpacity: 0.55 },
  activation: { color: '#9a3d00', weight: 1.5, fillColor: '#ff8c00', fillOpacity: 0.6 },
  'activation-high': { color: '#7a0000', weight: 1.5, fillColor: '#d7191c', fillOpacity: 0.6 },
};

function setUpMap() {
  if (state.map) return;
  state.map = L.map('map', { zoomControl: true, attributionControl: true }).setView([0, 0], 2);
  if (state.config?.tileUrl) L.tileLayer(state.config.tileUrl, { attribution: state.config.tileAttribution ?? '' }).addTo(state.map);
  // The printed map has another size: redraw it and fit the areas again.
  const refit = () => {
    state.map.invalidateSize();
    const bounds = state.layers.areas?.getBounds();
    if (bounds?.isValid()) state.map.fitBounds(bounds, { padding: [10, 10] });
  };
  window.addEventListener('beforeprint', refit);
  window.addEventListener('afterprint', refit);
}

/** The areas once (the map then keeps the user's zoom), the footprints of open events at every refresh. */
async function loadMapLayers() {
  const map = state.map;
  if (!state.layers.areas) {
    const [regions, districts] = await Promise.all([api('/api/areas?level=1'), api('/api/areas?level=2')]);
    state.layers.areas = L.geoJSON(districts, {
      style: (f) => ({ ...STYLE.none, className: `area area-none pcode-${f.properties.pcode}` }),
      onEachFeature: (f, layer) => layer.bindTooltip(h('span', {}, `${f.properties.name} (${f.properties.pcode})`), { sticky: true }),
    }).addTo(map);
    state.layers.regions = L.geoJSON(regions, { style: { color: '#333', weight: 2.5, fill: false, className: 'region' }, interactive: false }).addTo(map);
    const bounds = state.layers.areas.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [10, 10] });
  }
  const events = await api('/api/events');
  state.layers.events?.remove();
  state.layers.events = L.geoJSON(events, {
    style: { color: '#1f5fbf', weight: 2, dashArray: '6 4', fillColor: '#1f5fbf', fillOpacity: 0.12, className: 'footprint' },
    onEachFeature: (f, layer) => {
      const p = f.properties;
      // Text nodes only: titles come from outside feeds.
      layer.bindPopup(h('span', {}, `${p.title ?? p.externalId} — ${p.hazard ?? ''}${p.alertLevel ? ` (${p.alertLevel} alert)` : ''}; ${p.source} ${p.externalId} version ${p.version}${p.class ? `, ${p.class}` : ''}`));
    },
  }).addTo(map);
}

/** Colours each district by the open activations of it or of its region. */
function colourAreas() {
  if (!state.layers.areas) return;
  const byPcode = new Map();
  for (const a of state.activations) {
    const rank = a.stage === 'activation' ? (isHighTier(a) ? 3 : 2) : 1;
    if ((byPcode.get(a.pcode)?.rank ?? 0) < rank) byPcode.set(a.pcode, { rank, activation: a });
  }
  const counts = { 'activation-high': 0, activation: 0, readiness: 0, none: 0 };
  state.layers.areas.eachLayer((layer) => {
    const p = layer.feature.properties;
    const found = byPcode.get(p.pcode) ?? byPcode.get(p.parentPcode);
    const kind = !found ? 'none' : found.rank === 3 ? 'activation-high' : found.rank === 2 ? 'activation' : 'readiness';
    counts[kind] += 1;
    layer.setStyle(STYLE[kind]);
    const el = layer.getElement?.();
    if (el) el.setAttribute('class', `leaflet-interactive area area-${kind} pcode-${p.pcode}`);
    const a = found?.activation;
    layer.setTooltipContent(h('span', {}, `${p.name} (${p.pcode})${a ? ` — ${a.stage}${a.tier ? `, tier ${a.tier}` : ''}` : ''}`));
    if (kind !== 'none') layer.bringToFront();
  });
  state.layers.regions?.bringToFront();
  state.layers.events?.bringToFront();
  for (const [kind, n] of Object.entries(counts)) {
    const item = $(`#legend .swatch.kind-${kind}`)?.parentElement;
    if (item) item.dataset.count = String(n);
  }
}

// ---------------------------------------------------------------------------------------------
// Feed health
// ---------------------------------------------------------------------------------------------

async function loadFeeds() {
  const { feeds: all } = await api('/api/feeds');
  const feeds = all.filter((f) => f.enabled);
  const disabled = all.filter((f) => !f.enabled).map((f) => f.name);
  const rows = feeds.map((f) => {
    const status = f.consecutiveFailures > 0 ? `failing (${f.consecutiveFailures}×)` : f.stale ? 'stale' : f.lastSuccessAt ? 'ok' : 'not run yet';
    const problem = [f.lastError, f.quarantined ? `${f.quarantined} quarantined` : null].filter(Boolean).join('; ');
    return h('tr', { className: `feed feed-${status.split(' ')[0]}` },
      h('td', {}, f.name, h('div', { className: 'muted' }, f.adapter)),
      h('td', { className: 'status' }, status),
      h('td', {}, time(f.lastSuccessAt)),
      h('td', {}, time(f.lastNewDataAt)),
      h('td', {}, problem || '—'));
  });
  $('#feeds-panel .body').replaceChildren(
    feeds.length === 0 ? h('p', {}, 'No feed is enabled.') :
      h('table', {}, h('thead', {}, h('tr', {}, ['Feed', 'Status', 'Last success (UTC)', 'Last new data (UTC)', 'Problems'].map((t) => h('th', {}, t)))), h('tbody', {}, rows)),
    disabled.length ? h('p', { className: 'muted' }, `Disabled: ${disabled.join(', ')}`) : null,
  );
}

// ---------------------------------------------------------------------------------------------
// Activations, with their evidence in words
// ---------------------------------------------------------------------------------------------

function evidenceText(e) {
  switch (e.kind) {
    case 'indicator': {
      const period = e.periodStart === e.periodEnd ? day(e.periodStart) : `${day(e.periodStart)} to ${day(e.periodEnd)}`;
      const window = e.window ? `, ${e.window.method} of ${e.window.periods.length} periods` : '';
      const reference = e.reference ? `, compared with ${e.reference.kind} ${num(e.reference.value)}` : '';
      return `${e.indicator} in ${e.pcode} for ${period}: ${num(e.value)} (${e.status}${window}${reference}; ${e.source}, published ${day(e.knownAt)}) — ${e.test}${e.holds ? '' : ' — does not hold'}`;
    }
    case 'event':
      return `${e.source} event ${e.externalId}, version ${e.version}${e.alert ? `, ${e.alert} alert` : ''} (known ${day(e.knownAt)}) — ${e.test}${e.holds ? '' : ' — does not hold'}`;
    case 'gate':
    case 'declaration':
      return `${e.kind === 'gate' ? 'Gate' : 'Declaration'} ${e.name}: ${e.satisfied ? `satisfied${e.at ? ` on ${day(e.at)}` : ''}${e.id ? ` (ref ${e.id})` : ''}` : 'not satisfied yet'}`;
    case 'stop':
    case 'scale_down':
      return `${e.kind === 'stop' ? 'Stop' : 'Scale-down'} (${e.effect}): ${e.text}`;
    case 'note':
      return e.text;
    default:
      return JSON.stringify(e);
  }
}

async function loadActivations() {
  const { activations } = await api('/api/activations?status=open');
  state.activations = activations;
  const body = $('#activations-panel .body');
  if (activations.length === 0) {
    body.replaceChildren(h('p', { className: 'empty' }, 'No open activations: no approved rule is triggered now.'));
    return;
  }
  const byRule = groupBy(activations, (a) => a.ruleId);
  body.replaceChildren(...[...byRule].map(([ruleId, items]) => ruleGroup(ruleId, items)));
}

function groupBy(items, key) {
  const map = new Map();
  for (const item of items) map.set(key(item), [...(map.get(key(item)) ?? []), item]);
  return map;
}

function ruleGroup(ruleId, items) {
  const active = items.filter((a) => a.stage === 'activation');
  const generate = can('generate') && active.length > 0
    ? h('button', { type: 'button', className: 'generate', onclick: (ev) => act(ev.currentTarget, () => generateList(active[0])) },
        `Generate payment list (${active.length} area${active.length === 1 ? '' : 's'} in activation)`)
    : null;
  return h('div', { className: 'rule-group', 'data-rule': ruleId },
    h('h3', {}, `Rule ${ruleId}`, h('span', { className: 'muted' }, ` · version ${String(items[0].ruleHash ?? '').slice(0, 12)}`)),
    generate ? h('div', { className: 'actions' }, generate) : null,
    items.map(activationCard));
}

function activationCard(a) {
  const stage = a.stage === 'activation' ? `Activation${a.tier ? `, tier ${a.tier}` : ''}` : 'Readiness';
  const kind = a.stage === 'activation' ? (isHighTier(a) ? 'activation-high' : 'activation') : 'readiness';
  const facts = [
    `shock ${a.shockKey}`,
    `opened ${day(a.openedAt)}`,
    `evaluated as of ${day(a.evaluatedAsOf)}`,
    a.forced ? 'forced' : null,
    a.confirmedBy ? `confirmed by ${a.confirmedBy} on ${day(a.confirmedAt)}` : null,
  ].filter(Boolean);
  const decide = (verb, label) =>
    h('button', { type: 'button', className: verb, onclick: (ev) => act(ev.currentTarget, () => decideActivation(a, verb, label)) }, label);
  const buttons = can('decide') && a.status === 'open'
    ? [decide('confirm', 'Confirm'), decide('reject', 'Reject'), a.stage !== 'activation' || a.waitingFor.length > 0 ? decide('force', 'Force') : null]
    : [];
  return h('article', { className: `activation kind-${kind}`, 'data-id': String(a.id), 'data-pcode': a.pcode },
    h('h4', {}, h('span', { className: `swatch kind-${kind}` }), `${a.areaName ?? a.pcode} (${a.pcode})`, h('span', { className: 'stage' }, ` — ${stage}`)),
    h('p', { className: 'facts muted' }, facts.join(' · ')),
    a.waitingFor.length ? h('p', { className: 'waiting' }, `Waiting for: ${a.waitingFor.join(', ')}`) : null,
    h('ul', { className: 'evidence' }, a.evidence.map((e) => h('li', { className: `evidence-${e.kind}${e.holds === false || e.satisfied === false ? ' not-holding' : ''}` }, evidenceText(e)))),
    buttons.some(Boolean) ? h('div', { className: 'actions' }, buttons) : null);
}

async function decideActivation(a, verb, label) {
  const reason = window.prompt(`${label} the activation of ${a.areaName ?? a.pcode} (${a.pcode}). Reason (recorded):`);
  if (reason === null) return;
  if (!reason.trim()) throw Object.assign(new Error('a reason is required'), { status: null });
  await api(`/api/activations/${a.id}/${verb}`, { method: 'POST', body: { reason } });
  showNotice(`${label}: ${a.areaName ?? a.pcode} (${a.pcode}) — recorded.`);
  await refresh();
}

async function generateList(a) {
  const { lists } = await api('/api/lists', { method: 'POST', body: { activationId: a.id } });
  showNotice(lists.map((l) => `List ${l.id} (${l.programme}, ${l.cycle}) generated: ${num(l.households, 0)} households, ${money(l.totalAmount, l.currency)}${l.replaced ? ' (replaced the earlier draft)' : ''}.`).join(' '));
  await refresh();
}

// ---------------------------------------------------------------------------------------------
// Payment lists
// ---------------------------------------------------------------------------------------------

async function loadPartners() {
  state.partners = (await api('/api/partners')).partners;
}

async function loadLists() {
  const { lists } = await api('/api/lists');
  state.lists = lists;
  const body = $('#lists-panel .body');
  if (lists.length === 0) {
    body.replaceChildren(h('p', { className: 'empty' }, state.me.role === 'partner' ? 'No payment list has been released to you.' : 'No payment lists yet.'));
    return;
  }
  const live = lists.filter((l) => l.status !== 'cancelled');
  const totals = groupBy(live, (l) => l.currency ?? '');
  body.replaceChildren(
    h('table', { className: 'lists' },
      h('thead', {}, h('tr', {}, h('th', {}, 'List'), h('th', {}, 'Status'), h('th', { className: 'n' }, 'Households'), h('th', { className: 'n' }, 'Total'))),
      lists.map(listRow),
      h('tfoot', {}, [...totals].map(([currency, items]) =>
        h('tr', { className: 'totals' }, h('th', { colspan: '2' }, `Total${currency ? ` ${currency}` : ''}, ${items.length} list${items.length === 1 ? '' : 's'} (not cancelled)`),
          h('td', { className: 'n' }, num(items.reduce((s, l) => s + Number(l.households ?? 0), 0), 0)),
          h('td', { className: 'n' }, money(items.reduce((s, l) => s + Number(l.totalAmount ?? 0), 0), currency)))))),
  );
}

function listRow(l) {
  const who = [
    l.generatedBy ? `generated by ${l.generatedBy} ${day(l.generatedAt)}` : null,
    l.approvedBy ? `approved by ${l.approvedBy}${l.secondApprovedBy ? ` and ${l.secondApprovedBy}` : ''}` : null,
    l.cancelledReason ? `cancelled: ${l.cancelledReason}` : null,
  ].filter(Boolean).join(' · ');
  const buttons = [];
  if (can('approve') && l.status === 'draft') {
    buttons.push(h('button', { type: 'button', className: 'approve', onclick: (ev) => act(ev.currentTarget, () => approveList(l)) }, l.approvedBy ? 'Second approval' : 'Approve'));
  }
  if (can('release') && (l.status === 'approved' || l.status === 'released')) buttons.push(releaseForm(l));
  if (can('download') && (state.me.role === 'partner' || ['approved', 'released', 'closed'].includes(l.status))) {
    buttons.push(h('button', { type: 'button', className: 'download', onclick: (ev) => act(ev.currentTarget, () => downloadCsv(l)) }, 'Download CSV'));
  }
  return h('tbody', { className: `list status-${l.status}`, 'data-id': String(l.id) },
    h('tr', {},
      h('td', {}, h('strong', {}, `List ${l.id}`), ` ${[l.programme, l.cycle].filter(Boolean).join(' ')}`),
      h('td', { className: 'status' }, l.status),
      h('td', { className: 'n' }, num(l.households, 0)),
      h('td', { className: 'n' }, money(l.totalAmount, l.currency))),
    h('tr', { className: 'meta' },
      h('td', { colspan: '4' },
        h('div', { className: 'muted' }, [l.ruleId ? `rule ${l.ruleId}` : null, l.kind, who].filter(Boolean).join(' · ')),
        l.entriesSha256 ? h('div', { className: 'muted content-hash' }, `version ${l.version} · sha256 ${l.entriesSha256}`) : null,
        buttons.length ? h('div', { className: 'actions' }, buttons) : null)));
}

async function approveList(l) {
  // Approves the content this row shows (its hash and version): a list regenerated since is refused (409).
  const { list } = await api(`/api/lists/${l.id}/approve`, { method: 'POST', body: { sha256: l.entriesSha256, version: l.version } });
  showNotice(list.status === 'approved'
    ? `List ${l.id} approved.`
    : `List ${l.id}: first approval recorded; its total is above the threshold, so a second, different approver must approve it too.`);
  await refresh();
}

function releaseForm(l) {
  const expires = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
  const form = h('form', { className: 'release' },
    h('label', {}, 'Partner ', h('select', { name: 'partnerId', required: true },
      state.partners.map((p) => h('option', { value: p.id }, `${p.name} (${p.id})`)))),
    h('label', {}, 'Purpose ', h('input', { name: 'purpose', required: true, placeholder: 'agreement and payment it is for' })),
    h('label', {}, 'Until ', h('input', { name: 'expiresOn', type: 'date', required: true, value: expires })),
    h('button', { type: 'submit' }, 'Release'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    act(form.querySelector('button'), async () => {
      const { release } = await api(`/api/lists/${l.id}/release`, { method: 'POST', body: data });
      showNotice(`List ${l.id} released to ${release.partnerId} until ${release.expiresOn}${release.fields ? ` (fields: ${release.fields.join(', ')})` : ''}.`);
      await refresh();
    });
  });
  return h('details', { className: 'release' }, h('summary', {}, 'Release to a partner…'), form);
}

async function downloadCsv(l) {
  const response = await api(`/api/lists/${l.id}/export?format=csv`, { raw: true });
  const named = /filename="?([^";]+)"?/.exec(response.headers.get('Content-Disposition') ?? '');
  const url = URL.createObjectURL(await response.blob());
  const link = h('a', { href: url, download: named ? named[1] : `list-${l.id}.csv` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  showNotice(`List ${l.id} downloaded as CSV.`);
}

// ---------------------------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------------------------

$('#signin').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const key = $('#key').value.trim();
  if (!key) return;
  sessionStorage.setItem(KEY, key);
  $('#message').hidden = true;
  signIn();
});
$('#signout').addEventListener('click', () => {
  sessionStorage.removeItem(KEY);
  location.reload();
});
$('#refresh').addEventListener('click', (ev) => act(ev.currentTarget, refresh));

if (sessionStorage.getItem(KEY)) signIn();
else showSignin();
