// The create forms: each posts to the API as the user and shows the API's
// own error message when refused.
import { post, put, del, list } from './api.js';
import { h } from './panel.js';

const opt = (value, label) => h('option', { value }, label);
const field = (label, control) => h('label', {}, `${label} `, control);
const label = (o) => o.name || o.id.slice(0, 8);

export class Forms {
  constructor(root, app) {
    this.root = root;
    this.app = app;
    this.data = null;
    this.selects = {};   // name -> [select, fill(data)]
  }

  configure(config, who) {
    this.config = config;
    this.who = who;
    const forms = [this.network(), this.subnet(), this.router(), this.routerInterface(),
      this.floatingip(), this.rule()];
    if (config.lab && who.is_admin) forms.push(this.instance(), this.ping());
    this.root.replaceChildren(...forms);
  }

  select(name, aria, fill) {
    const sel = h('select', { name, 'aria-label': aria, className: 'context' });
    this.selects[name + ':' + aria] = [sel, fill];
    if (this.data) this.fillOne(sel, fill);
    return sel;
  }

  fillOne(sel, fill) {
    const keep = sel.value;
    sel.replaceChildren(...fill(this.data));
    if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
  }

  async update(data) {
    this.data = data;
    try {
      data.security_groups = await list('v2.0/security-groups', 'security_groups');
    } catch (e) { data.security_groups = []; }
    for (const [sel, fill] of Object.values(this.selects)) {
      if (document.activeElement !== sel) this.fillOne(sel, fill);
    }
    this.renderRules();
    const dl = document.getElementById('projects');
    if (dl) {
      const ids = [...new Set(data.networks.map((n) => n.project_id).filter(Boolean))];
      dl.replaceChildren(...ids.map((id) => opt(id, id)));
    }
  }

  form(name, title, controls, submit) {
    const f = h('form', { className: 'card', 'data-form': name, 'aria-label': title },
      h('h3', {}, title), ...controls, h('button', { type: 'submit' }, 'create'));
    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const btn = f.querySelector('button[type=submit]');
      btn.disabled = true;
      const out = f.querySelector('output');
      try {
        const result = await submit(new FormData(f), f);
        this.app.showError(null);
        // the next object starts from the defaults, in the same context
        // (network, router, group: the selects keep their choice)
        const keep = [...f.querySelectorAll('select.context')].map((sel) => [sel, sel.value]);
        f.reset();
        keep.forEach(([sel, value]) => { sel.value = value; });
        this.renderRules();
        if (out) out.textContent = result || '';
      } catch (e) {
        this.app.showError(e);
        if (out) out.textContent = '';
      } finally {
        btn.disabled = false;
      }
      await this.app.refresh();
      f.dataset.done = String(Number(f.dataset.done || 0) + 1);   // (the tests wait on it)
    });
    return f;
  }

  network() {
    const admin = this.who.is_admin;
    const controls = [field('name', h('input', { name: 'name' }))];
    if (admin) {
      controls.push(field('external', h('input', { type: 'checkbox', name: 'external' })),
        field('shared', h('input', { type: 'checkbox', name: 'shared' })),
        field('type', h('select', { name: 'type' }, opt('', '(default)'), opt('flat', 'flat'),
          opt('vlan', 'vlan'), opt('vxlan', 'vxlan'))),
        field('physnet', h('input', { name: 'physnet', size: 10 })));
    }
    return this.form('network', 'network', controls, async (fd) => {
      const body = { name: fd.get('name') };
      if (fd.get('external')) body['router:external'] = true;
      if (fd.get('shared')) body.shared = true;
      if (fd.get('type')) body['provider:network_type'] = fd.get('type');
      if (fd.get('physnet')) body['provider:physical_network'] = fd.get('physnet');
      await post('v2.0/networks', { network: body });
    });
  }

  subnet() {
    const nets = this.select('network_id', 'subnet network',
      (d) => d.networks.map((n) => opt(n.id, label(n))));
    return this.form('subnet', 'subnet', [field('network', nets),
      field('name', h('input', { name: 'name' })),
      field('cidr', h('input', { name: 'cidr', placeholder: '10.0.0.0/24', required: true })),
      field('gateway', h('input', { name: 'gateway_ip', placeholder: '(first address)' })),
      field('DHCP', h('input', { type: 'checkbox', name: 'enable_dhcp', checked: true }))],
    async (fd) => {
      const body = { network_id: fd.get('network_id'), name: fd.get('name'), ip_version: 4,
        cidr: fd.get('cidr'), enable_dhcp: !!fd.get('enable_dhcp') };
      if (fd.get('gateway_ip')) body.gateway_ip = fd.get('gateway_ip');
      await post('v2.0/subnets', { subnet: body });
    });
  }

  router() {
    const ext = this.select('gateway', 'router gateway', (d) => [opt('', '(none)'),
      ...d.networks.filter((n) => n['router:external']).map((n) => opt(n.id, label(n)))]);
    return this.form('router', 'router', [field('name', h('input', { name: 'name' })),
      field('gateway', ext),
      field('SNAT', h('input', { type: 'checkbox', name: 'snat', checked: true }))],
    async (fd) => {
      const body = { name: fd.get('name') };
      if (fd.get('gateway')) {
        body.external_gateway_info = { network_id: fd.get('gateway') };
        if (!fd.get('snat')) body.external_gateway_info.enable_snat = false;
      }
      await post('v2.0/routers', { router: body });
    });
  }

  routerInterface() {
    const routers = this.select('router', 'interface router',
      (d) => d.routers.map((r) => opt(r.id, label(r))));
    const subnets = this.select('subnet', 'interface subnet', (d) => d.subnets.map((s) =>
      opt(s.id, `${s.name || ''} ${s.cidr}`.trim())));
    return this.form('interface', 'router interface', [field('router', routers),
      field('subnet', subnets)], async (fd) => {
      await put(`v2.0/routers/${fd.get('router')}/add_router_interface`,
        { subnet_id: fd.get('subnet') });
    });
  }

  floatingip() {
    const ext = this.select('network', 'floating IP network', (d) => d.networks
      .filter((n) => n['router:external']).map((n) => opt(n.id, label(n))));
    const ports = this.select('port', 'floating IP port', (d) => [opt('', '(none)'),
      ...d.ports.filter((p) => (p.device_owner || '').startsWith('compute:') || !p.device_owner)
        .map((p) => {
          const inst = (d.instances || []).find((i) => i.port_id === p.id);
          return opt(p.id, `${inst ? inst.name : label(p)} ${p.fixed_ips.map((f) => f.ip_address).join(' ')}`);
        })]);
    return this.form('floatingip', 'floating IP', [field('network', ext), field('port', ports)],
      async (fd) => {
        const body = { floating_network_id: fd.get('network') };
        if (fd.get('port')) body.port_id = fd.get('port');
        await post('v2.0/floatingips', { floatingip: body });
      });
  }

  rule() {
    const groups = this.select('group', 'security group', (d) => (d.security_groups || [])
      .map((g) => opt(g.id, `${g.name} ${g.project_id.slice(0, 8)}`)));
    groups.addEventListener('change', () => this.renderRules());
    this.rules = h('ul', { className: 'rules' });
    const f = this.form('rule', 'security group rule', [field('group', groups),
      field('direction', h('select', { name: 'direction' }, opt('ingress', 'ingress'),
        opt('egress', 'egress'))),
      field('protocol', h('select', { name: 'protocol' }, opt('', 'any'), opt('icmp', 'icmp'),
        opt('tcp', 'tcp'), opt('udp', 'udp'))),
      field('ports', h('input', { name: 'ports', placeholder: '22 or 8000-8080', size: 10 })),
      field('remote', h('input', { name: 'remote', placeholder: '0.0.0.0/0', size: 14 }))],
    async (fd) => {
      const body = { security_group_id: fd.get('group'), direction: fd.get('direction'),
        ethertype: 'IPv4' };
      if (fd.get('protocol')) body.protocol = fd.get('protocol');
      const ports = (fd.get('ports') || '').trim();
      if (ports) {
        const [lo, hi] = ports.split('-');
        body.port_range_min = Number(lo);
        body.port_range_max = Number(hi || lo);
      }
      if (fd.get('remote')) body.remote_ip_prefix = fd.get('remote');
      await post('v2.0/security-group-rules', { security_group_rule: body });
    });
    f.append(this.rules);
    return f;
  }

  renderRules() {
    if (!this.rules || !this.data) return;
    const sel = this.rules.closest('form')?.querySelector('select[name=group]');
    const g = (this.data.security_groups || []).find((x) => x.id === sel?.value);
    this.rules.replaceChildren(...(g ? g.security_group_rules : []).map((r) => h('li', {},
      `${r.direction} ${r.ethertype} ${r.protocol || 'any'}`
      + `${r.port_range_min ? ' ' + r.port_range_min + (r.port_range_max !== r.port_range_min ? '-' + r.port_range_max : '') : ''}`
      + `${r.remote_ip_prefix ? ' from ' + r.remote_ip_prefix : ''}${r.remote_group_id ? ' group ' + r.remote_group_id.slice(0, 8) : ''} `,
      h('button', { type: 'button', 'aria-label': 'delete rule', 'data-rule': r.id, on: { click: async () => {
        try { await del(`v2.0/security-group-rules/${r.id}`); this.app.showError(null); }
        catch (e) { this.app.showError(e); }
        await this.app.refresh();
      } } }, 'delete'))));
  }

  instance() {
    const nets = this.select('network', 'instance network',
      (d) => d.networks.filter((n) => !n['router:external']).map((n) => opt(n.id, label(n))));
    return this.form('instance', 'lab instance', [field('name', h('input', { name: 'name', required: true })),
      field('network', nets), field('host', h('input', { name: 'host', placeholder: '(first)', size: 8 }))],
    async (fd) => {
      const body = { name: fd.get('name'), network: fd.get('network') };
      if (fd.get('host')) body.host = fd.get('host');
      await post('dashboard/api/lab/instances', { instance: body });
    });
  }

  ping() {
    const from = this.select('from', 'ping from',
      (d) => (d.instances || []).map((i) => opt(i.name, i.name)));
    const f = this.form('ping', 'ping', [field('from', from),
      field('to', h('input', { name: 'to', placeholder: 'instance or IP', required: true })),
      h('output', { name: 'result', 'aria-live': 'polite' })], async (fd, form) => {
      const r = await post('dashboard/api/lab/ping', { ping: { from: fd.get('from'), to: fd.get('to') } });
      form.dataset.ok = String(r.ping.ok);
      return `${r.ping.ok ? 'OK' : 'FAILED'}: ${r.ping.from} → ${r.ping.to} (${r.ping.ip})\n${r.ping.output}`;
    });
    f.querySelector('button[type=submit]').textContent = 'ping';
    return f;
  }
}
