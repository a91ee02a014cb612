// The dashboard's main loop: who the user is, what the API shows them, the
// graph and list drawn from it, and a re-read on every change event.
import { session, get, post, list, listen, ApiError } from './api.js';
import { buildElements } from './topology.js';
import { Graph } from './graph.js';
import { Panel } from './panel.js';
import { Forms } from './forms.js';

const $ = (s) => document.querySelector(s);

export const dash = {
  config: null, who: null, data: null, graph: null, panel: null, forms: null,
  version: 0, lastEventAt: 0, lastRenderAt: 0, renders: [], eventTimes: [], selected: null, generation: 0,
};
window.dash = dash;   // for the browser tests and the curious

export function showError(e) {
  const box = $('#error');
  if (!e) { box.hidden = true; box.textContent = ''; return; }
  box.textContent = e instanceof ApiError || e instanceof Error ? e.message : String(e);
  box.hidden = false;
}

async function loadAll() {
  const [networks, subnets, ports, routers, floatingips, loadbalancers, firewallGroups,
    instances] = await Promise.all([
    list('v2.0/networks', 'networks'), list('v2.0/subnets', 'subnets'),
    list('v2.0/ports', 'ports'), list('v2.0/routers', 'routers'),
    list('v2.0/floatingips', 'floatingips'),
    list('v2/lbaas/loadbalancers', 'loadbalancers'),
    list('v2.0/fwaas/firewall_groups', 'firewall_groups'),
    dash.config.lab && dash.who?.is_admin ? list('dashboard/api/lab/instances', 'instances')
      : Promise.resolve([]),
  ]);
  return { networks, subnets, ports, routers, floatingips, loadbalancers,
    firewall_groups: firewallGroups, instances };
}

let inflight = null;
let again = false;
export async function refresh() {
  if (inflight) { again = true; return inflight; }
  inflight = (async () => {
    do {
      again = false;
      const started = performance.now();
      const generation = dash.generation;
      try {
        const data = await loadAll();
        if (generation !== dash.generation) { again = true; continue; }   // read as someone else
        dash.data = data;
      } catch (e) {
        if (e.status === 401) { loggedOut(); return; }
        showError(e);
        continue;
      }
      const elements = buildElements(dash.data);
      dash.graph.update(elements);
      renderList(elements.nodes);
      dash.forms.update(dash.data);
      dash.panel.refresh(dash.data);
      dash.version += 1;
      dash.lastRenderAt = Date.now();
      document.body.dataset.version = String(dash.version);
      dash.renders.push({ ms: performance.now() - started, at: dash.lastRenderAt,
        nodes: elements.nodes.length, edges: elements.edges.length });
      if (dash.renders.length > 200) dash.renders.shift();
    } while (again);
  })();
  try { await inflight; } finally { inflight = null; }
}

function renderList(nodes) {
  const ul = $('#objects');
  const q = $('#filter').value.trim().toLowerCase();
  const order = ['network', 'subnet', 'router', 'instance', 'port', 'dhcp', 'floatingip',
    'loadbalancer', 'firewall_group'];
  const sorted = [...nodes].sort((a, b) => order.indexOf(a.data.kind) - order.indexOf(b.data.kind)
    || a.data.label.localeCompare(b.data.label));
  // Every change in the cloud re-renders the list: a keyboard user's focus stays on its object.
  const focused = ul.contains(document.activeElement) ? document.activeElement.dataset.node : null;
  ul.replaceChildren(...sorted.filter((n) => !q || n.data.label.toLowerCase().includes(q)
    || n.data.rid.includes(q)).map((n) => {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.node = n.data.id;
    b.dataset.status = n.data.status || '';
    b.className = `obj st-${n.data.status}`;
    b.textContent = `${n.data.kind} ${n.data.label.replace('\n', ' ')}`;
    b.setAttribute('aria-pressed', String(dash.selected === n.data.id));
    b.addEventListener('click', () => select(n.data.id));
    li.append(b);
    return li;
  }));
  if (focused) {
    const again = [...ul.querySelectorAll('button')].find((b) => b.dataset.node === focused);
    if (again) again.focus();
  }
}

export function select(id) {
  dash.selected = id;
  dash.graph.select(id);
  dash.panel.show(id, dash.data);
  document.querySelectorAll('#objects button').forEach((b) =>
    b.setAttribute('aria-pressed', String(b.dataset.node === id)));
}

function settling() {
  const d = dash.data;
  if (!d) return false;
  return d.ports.some((p) => p.status === 'BUILD'
      || (p.status === 'DOWN' && p['binding:host_id'] && p.admin_state_up !== false))
    || d.floatingips.some((f) => f.port_id && f.status !== 'ACTIVE');
}

function setLive(state) {
  if (state === 'back') { state = 'live'; refresh(); }   // back after a gap: re-read
  const el = $('#live');
  el.dataset.state = state;
  el.textContent = state === 'live' ? 'live' : 'reconnecting…';
}

let stopListening = null;
let poller = null;
async function start() {
  dash.generation += 1;     // a new user or project: reads begun before it are dropped
  try {
    dash.who = await get('dashboard/api/whoami');
  } catch (e) {
    if (e.status === 401) { loggedOut(); return; }
    showError(e);
    return;
  }
  showError(null);
  $('#login').hidden = true;
  $('#app').hidden = false;
  $('#who').textContent = `${session.user || dash.who.user_id || ''} project `
    + `${dash.who.project_id.slice(0, 8)} (${dash.who.roles.join(', ')})`;
  $('#logout').hidden = session.strategy !== 'keystone';
  if (!dash.graph) {
    dash.graph = new Graph($('#graph'), (id) => select(id));
    dash.panel = new Panel($('#panel'), { refresh, select, showError });
    dash.forms = new Forms($('#forms'), { refresh, showError });
    $('#fit').addEventListener('click', () => dash.graph.fit());
    $('#filter').addEventListener('input', () => refresh());
  }
  dash.forms.configure(dash.config, dash.who);
  dash.panel.configure(dash.config, dash.who);
  await refresh();
  dash.graph.fit();
  stopListening?.();
  stopListening = listen((evt) => {
    dash.lastEventAt = Date.now();
    dash.eventTimes.push(dash.lastEventAt);
    if (dash.eventTimes.length > 100) dash.eventTimes.shift();
    dash.lastEvent = evt;
    refresh();
  }, setLive);
  // Port status changes reported by agents are not change notifications:
  // for 20 s after a change, while a bound port or an associated floating
  // IP is not ACTIVE yet, re-read every second; otherwise every 10 s (which
  // also catches anything a lost event missed).
  clearInterval(poller);
  let ticks = 0;
  poller = setInterval(() => {
    ticks += 1;
    if (document.hidden) return;
    if (ticks % 10 === 0 || (Date.now() - dash.lastEventAt < 20000 && settling())) refresh();
  }, 1000);
}

function loggedOut() {
  stopListening?.();
  clearInterval(poller);
  session.clear();
  $('#app').hidden = true;
  $('#login').hidden = false;
  $('#login-form [name=username]').focus();
}

async function login(ev) {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    const r = await post('dashboard/api/login', Object.fromEntries(f.entries()));
    session.token = r.token;
    session.user = r.user;
    session.save();
    ev.target.reset();
    await start();
  } catch (e) {
    showError(e);
  }
}

async function main() {
  session.load();
  dash.config = await get('dashboard/api/config');
  session.strategy = dash.config.auth_strategy;
  $('#login-form').addEventListener('submit', login);
  $('#logout').addEventListener('click', loggedOut);
  if (session.strategy === 'noauth') {
    const form = $('#project-switch');
    form.hidden = false;
    $('#project-id').value = session.project || dash.config.default_project_id;
    $('#project-role').value = session.roles || 'admin';
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      session.project = $('#project-id').value.trim() || dash.config.default_project_id;
      session.roles = $('#project-role').value;
      session.save();
      dash.selected = null;
      start();
    });
    if (!session.project) session.project = dash.config.default_project_id;
    await start();
  } else if (session.token) {
    await start();
  } else {
    loggedOut();
  }
}

document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && dash.selected) select(null);
});

window.addEventListener('DOMContentLoaded', () => {
  main().catch((e) => showError(e));
});
