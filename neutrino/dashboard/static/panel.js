// The selected object's panel: its attributes, its actions, and "under the
// hood" -- the kernel objects behind it on each host (admin only), with
// what changed since the last look.
import { get, put, del } from './api.js';

const h = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'on') Object.entries(v).forEach(([ev, fn]) => el.addEventListener(ev, fn));
    else if (k in el && k !== 'list') el[k] = v;
    else el.setAttribute(k, v);
  }
  el.append(...children.filter((c) => c !== null && c !== undefined));
  return el;
};
export { h };

const COLLECTION = { network: 'networks', subnet: 'subnets', router: 'routers',
  port: 'ports', instance: 'ports', dhcp: 'ports', floatingip: 'floatingips' };

// Line diff (longest common subsequence): [['=', line] | ['+', line] | ['-', line]]
export function diffLines(before, after) {
  const n = before.length;
  const m = after.length;
  const dp = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      dp[i][j] = before[i] === after[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (before[i] === after[j]) { out.push(['=', after[j]]); i++; j++; }
    else if (dp[i + 1][j] >= dp[i][j + 1]) out.push(['-', before[i++]]);
    else out.push(['+', after[j++]]);
  }
  while (i < n) out.push(['-', before[i++]]);
  while (j < m) out.push(['+', after[j++]]);
  return out;
}

export class Panel {
  constructor(root, app) {
    this.root = root;
    this.app = app;
    this.id = null;
    this.head = h('div');
    this.hood = h('div', { className: 'hood' });
    root.replaceChildren(h('p', { className: 'hint' }, 'Select an object in the graph or the list.'));
  }

  configure(config, who) { this.config = config; this.who = who; }

  find(id, data) {
    if (!id || !data) return null;
    const [kind, rid] = [id.slice(0, id.indexOf(':')), id.slice(id.indexOf(':') + 1)];
    const key = { network: 'networks', subnet: 'subnets', router: 'routers', port: 'ports',
      floatingip: 'floatingips', loadbalancer: 'loadbalancers',
      firewall_group: 'firewall_groups' }[kind];
    const obj = (data[key] || []).find((o) => o.id === rid);
    return obj ? { kind, rid, obj } : null;
  }

  show(id, data) {
    this.id = id;
    this.hood.replaceChildren();
    this.refresh(data);
  }

  refresh(data) {
    const found = this.find(this.id, data);
    if (!found) {
      this.root.replaceChildren(h('p', { className: 'hint' },
        this.id ? 'The selected object is gone.' : 'Select an object in the graph or the list.'));
      return;
    }
    const focus = document.activeElement;
    if (this.root.contains(focus) && ['SELECT', 'INPUT'].includes(focus.tagName)) return;  // mid-edit
    this.data = data;
    this.head.replaceChildren(...this.describe(found, data));
    this.root.replaceChildren(this.head, this.hood);
  }

  describe({ kind, rid, obj }, data) {
    const inst = (data.instances || []).find((i) => i.port_id === rid);
    const title = `${inst ? 'instance ' + inst.name : kind} ${obj.name || ''}`.trim();
    const rows = [['id', rid], ['status', obj.status || obj.provisioning_status || '']];
    const add = (k, v) => { if (v !== undefined && v !== null && v !== '') rows.push([k, v]); };
    if (kind === 'network') {
      add('type', obj['provider:network_type']);
      add('segment', obj['provider:segmentation_id']);
      add('external', obj['router:external'] ? 'yes' : 'no');
      add('shared', obj.shared ? 'yes' : 'no');
      add('mtu', obj.mtu);
      add('project', obj.project_id);
    } else if (kind === 'subnet') {
      add('cidr', obj.cidr); add('gateway', obj.gateway_ip);
      add('DHCP', obj.enable_dhcp ? 'on' : 'off');
      add('pools', (obj.allocation_pools || []).map((p) => `${p.start}-${p.end}`).join(', '));
    } else if (kind === 'router') {
      const gw = obj.external_gateway_info;
      add('gateway', gw ? `${(gw.external_fixed_ips || []).map((f) => f.ip_address).join(' ')}`
        + ` ${gw.enable_snat === false ? '(no SNAT)' : '(SNAT)'}` : 'none');
    } else if (kind === 'port') {
      add('mac', obj.mac_address);
      add('ips', (obj.fixed_ips || []).map((f) => f.ip_address).join(', '));
      add('owner', obj.device_owner);
      add('host', obj['binding:host_id']);
      add('tap', `tap${rid.slice(0, 11)}`);
    } else if (kind === 'floatingip') {
      add('address', obj.floating_ip_address);
      add('fixed', obj.fixed_ip_address);
      add('port', obj.port_id);
    } else if (kind === 'loadbalancer') {
      add('vip', obj.vip_address); add('operating', obj.operating_status);
    }
    const dl = h('dl', { className: 'attrs' });
    rows.forEach(([k, v]) => dl.append(h('dt', {}, k), h('dd', {}, String(v))));
    const out = [h('h2', {}, title), dl];
    out.push(...this.actions(kind, rid, obj, data, inst));
    return out;
  }

  button(label, fn, cls = '') {
    return h('button', { type: 'button', className: cls, on: { click: async (e) => {
      e.target.disabled = true;
      try { await fn(); this.app.showError(null); } catch (err) { this.app.showError(err); }
      finally { e.target.disabled = false; }
      await this.app.refresh();
    } } }, label);
  }

  actions(kind, rid, obj, data, inst) {
    const out = [];
    const bar = h('div', { className: 'buttons' });
    const admin = this.who?.is_admin;
    const hoodKind = { network: 'network', subnet: 'network', router: 'router', port: 'port',
      floatingip: obj.router_id ? 'router' : null }[kind];
    const hoodId = kind === 'subnet' ? obj.network_id : (kind === 'floatingip' ? obj.router_id : rid);
    if (admin && hoodKind) {
      bar.append(this.button('under the hood', () => this.underTheHood(hoodKind, hoodId), 'hood-btn'));
    }
    if (inst && this.config?.lab) {
      bar.append(this.button('delete instance', () => del(
        `dashboard/api/lab/instances/${encodeURIComponent(inst.name)}`), 'danger'));
    } else if (COLLECTION[kind] && obj.device_owner !== 'network:dhcp') {
      bar.append(this.button(`delete ${kind}`, () => del(`v2.0/${COLLECTION[kind]}/${rid}`),
        'danger'));
    }
    out.push(bar);
    if (kind === 'router') out.push(this.routerActions(rid, obj, data));
    if (kind === 'floatingip') out.push(this.fipActions(rid, obj, data));
    return out;
  }

  routerActions(rid, obj, data) {
    const box = h('div', { className: 'sub' });
    const ifaces = data.ports.filter((p) => p.device_id === rid
      && p.device_owner !== 'network:router_gateway');
    const ul = h('ul', { className: 'ifaces' });
    for (const p of ifaces) {
      for (const f of p.fixed_ips) {
        const sn = data.subnets.find((s) => s.id === f.subnet_id);
        ul.append(h('li', {}, `${sn ? sn.name || sn.cidr : f.subnet_id} ${f.ip_address} `,
          this.button('remove', () => put(`v2.0/routers/${rid}/remove_router_interface`,
            { subnet_id: f.subnet_id }))));
      }
    }
    box.append(h('h3', {}, 'interfaces'), ul);
    const ext = data.networks.filter((n) => n['router:external']);
    const sel = h('select', { 'aria-label': 'gateway network' },
      h('option', { value: '' }, '(no gateway)'),
      ...ext.map((n) => h('option', { value: n.id }, n.name || n.id)));
    sel.value = obj.external_gateway_info?.network_id || '';
    const snat = h('input', { type: 'checkbox', checked: obj.external_gateway_info?.enable_snat !== false });
    box.append(h('h3', {}, 'gateway'), h('label', {}, 'network ', sel),
      h('label', {}, snat, ' SNAT'),
      this.button('set gateway', () => put(`v2.0/routers/${rid}`, { router: {
        external_gateway_info: sel.value ? { network_id: sel.value, enable_snat: snat.checked } : {},
      } })));
    return box;
  }

  fipActions(rid, obj, data) {
    const ports = data.ports.filter((p) => (p.device_owner || '').startsWith('compute:')
      || p.device_owner === '');
    const sel = h('select', { 'aria-label': 'port to associate' },
      h('option', { value: '' }, '(not associated)'),
      ...ports.map((p) => {
        const inst = (data.instances || []).find((i) => i.port_id === p.id);
        return h('option', { value: p.id },
          `${inst ? inst.name : p.name || p.id.slice(0, 8)} ${p.fixed_ips.map((f) => f.ip_address).join(' ')}`);
      }));
    sel.value = obj.port_id || '';
    return h('div', { className: 'sub' }, h('label', {}, 'associate with ', sel),
      this.button('apply', () => put(`v2.0/floatingips/${rid}`,
        { floatingip: { port_id: sel.value || null } })));
  }

  async underTheHood(kind, rid) {
    this.hood.replaceChildren(h('p', { className: 'hint' }, 'asking the agents…'));
    const view = await get(`dashboard/api/inspect/${kind}/${rid}`);
    const key = `uth:${kind}:${rid}`;
    const last = JSON.parse(sessionStorage.getItem(key) || 'null');
    const now = {};
    const parts = [h('h3', {}, `under the hood (${new Date().toLocaleTimeString()})`)];
    if (view.tap) parts.push(h('p', { className: 'expect' }, `expected: ${view.tap} on ${view.bridge}`));
    if (!view.hosts.length) parts.push(h('p', {}, 'No host has anything for it (not bound, no agent).'));
    for (const host of view.hosts) {
      now[host.host] = host.lines || [];
      parts.push(h('h4', {}, host.host));
      if (host.error) { parts.push(h('p', { className: 'error-inline' }, host.error)); continue; }
      const before = last ? (last[host.host] || []) : null;
      const pre = h('pre', { className: 'kernel', 'data-host': host.host, tabIndex: 0 });
      const rows = before ? diffLines(before, now[host.host]) : now[host.host].map((l) => ['=', l]);
      for (const [op, line] of rows) {
        pre.append(h('span', { className: op === '+' ? 'add' : op === '-' ? 'del' : '' },
          `${op === '=' ? ' ' : op} ${line}\n`));
      }
      parts.push(pre);
    }
    if (last) {
      const changed = Object.keys(now).some((k) => JSON.stringify(now[k]) !== JSON.stringify(last[k]));
      parts.splice(1, 0, h('p', { className: 'hint diff-summary' },
        changed ? 'Changes since the last look: + new, - gone.' : 'Nothing changed since the last look.'));
    }
    sessionStorage.setItem(key, JSON.stringify(now));
    this.hood.replaceChildren(...parts);
  }
}
