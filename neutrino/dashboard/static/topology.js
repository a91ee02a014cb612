// The logical topology as graph elements: a pure function of what the API
// returned, so the same data always gives the same graph.
//
//   external network -> router (gateway: its IP, SNAT on/off)
//   router -> subnet (interface), network -> subnet
//   subnet -> port/instance/DHCP port (by fixed IP; network -> port without one)
//   external network -> floating IP -> port it is associated with
//   subnet -> load balancer (VIP); firewall group -> router/port it guards

const ROUTER_OWNERS = ['network:router_interface', 'network:router_interface_distributed',
  'network:ha_router_replicated_interface', 'network:router_gateway',
  'network:router_centralized_snat', 'network:router_ha_interface'];

const short = (id) => (id || '').slice(0, 8);

export function nodeKind(port) {
  const owner = port.device_owner || '';
  if (owner === 'network:dhcp') return 'dhcp';
  if (owner.startsWith('compute:')) return 'instance';
  if (owner === 'network:floatingip' || owner === 'Octavia' || owner.startsWith('neutron:LOADBALANCER'))
    return null;   // shown as their floating IP / load balancer
  if (ROUTER_OWNERS.includes(owner)) return null;   // shown as the router's edges
  return 'port';
}

export function buildElements(d) {
  const nodes = [];
  const edges = [];
  const have = new Set();
  const node = (id, data, classes) => {
    have.add(id);
    // boxes as wide as their label's longest line (a character: ~6 px at 11 px, ~5.5 at 10)
    const longest = Math.max(...String(data.label).split('\n').map((l) => l.length));
    const em = classes === 'subnet' ? 5.6 : 6.2;
    nodes.push({ group: 'nodes', data: { id, w: Math.max(60, Math.round(longest * em + 14)),
      ...data }, classes });
  };
  const edge = (source, target, data = {}, classes = '') => {
    if (!have.has(source) || !have.has(target)) return;
    edges.push({ group: 'edges', data: { id: `${source}>${target}`, source, target, ...data },
      classes });
  };
  const ipsOf = (p) => (p.fixed_ips || []).map((f) => f.ip_address).join(' ');

  for (const n of d.networks) {
    const ext = !!n['router:external'];
    node(`network:${n.id}`, { kind: 'network', rid: n.id, status: n.status,
      label: `${n.name || short(n.id)}${ext ? ' (external)' : ''}${n.shared ? ' shared' : ''}` },
    ext ? 'network external' : 'network');
  }
  for (const s of d.subnets) {
    node(`subnet:${s.id}`, { kind: 'subnet', rid: s.id, status: 'ACTIVE',
      label: `${s.name ? s.name + ' ' : ''}${s.cidr}` }, 'subnet');
    edge(`network:${s.network_id}`, `subnet:${s.id}`);
  }
  for (const r of d.routers) {
    const gw = r.external_gateway_info;
    node(`router:${r.id}`, { kind: 'router', rid: r.id, status: r.status,
      label: r.name || short(r.id) }, 'router');
    if (gw && gw.network_id) {
      const ips = (gw.external_fixed_ips || []).map((f) => f.ip_address).join(' ');
      const snat = gw.enable_snat === false ? 'no SNAT' : 'SNAT';
      edge(`network:${gw.network_id}`, `router:${r.id}`, { label: `gw ${ips} ${snat}`.trim() },
        'gateway');
    }
  }
  const byPort = new Map((d.instances || []).map((i) => [i.port_id, i]));
  for (const p of d.ports) {
    const owner = p.device_owner || '';
    if (owner === 'network:router_interface' || owner === 'network:ha_router_replicated_interface'
        || owner === 'network:router_interface_distributed') {
      for (const f of p.fixed_ips || []) {
        edge(`router:${p.device_id}`, `subnet:${f.subnet_id}`, { label: f.ip_address, port: p.id },
          'interface');
      }
      continue;
    }
    const kind = nodeKind(p);
    if (!kind) continue;
    const inst = byPort.get(p.id);
    const name = inst ? inst.name : (p.name || short(p.id));
    node(`port:${p.id}`, { kind, rid: p.id, status: p.status,
      label: kind === 'dhcp' ? `DHCP ${ipsOf(p)}` : `${name}\n${ipsOf(p)}` }, kind);
    const subnets = (p.fixed_ips || []).map((f) => `subnet:${f.subnet_id}`);
    if (subnets.length) subnets.forEach((s) => edge(s, `port:${p.id}`));
    else edge(`network:${p.network_id}`, `port:${p.id}`);
  }
  for (const f of d.floatingips) {
    node(`floatingip:${f.id}`, { kind: 'floatingip', rid: f.id, status: f.status,
      label: `FIP ${f.floating_ip_address}` }, 'floatingip');
    edge(`network:${f.floating_network_id}`, `floatingip:${f.id}`);
    if (f.port_id) edge(`floatingip:${f.id}`, `port:${f.port_id}`, { label: f.fixed_ip_address },
      'association');
  }
  for (const lb of d.loadbalancers || []) {
    node(`loadbalancer:${lb.id}`, { kind: 'loadbalancer', rid: lb.id,
      status: lb.operating_status === 'ONLINE' ? 'ACTIVE' : lb.provisioning_status,
      label: `LB ${lb.name || short(lb.id)}\n${lb.vip_address || ''}` }, 'loadbalancer');
    edge(`subnet:${lb.vip_subnet_id}`, `loadbalancer:${lb.id}`);
  }
  const routerOfPort = new Map(d.ports.filter((p) => (p.device_owner || '').startsWith('network:router'))
    .map((p) => [p.id, p.device_id]));
  for (const g of d.firewall_groups || []) {
    if (!(g.ports || []).length) continue;   // a group guarding nothing (each project's default)
    node(`firewall_group:${g.id}`, { kind: 'firewall_group', rid: g.id, status: g.status,
      label: `FW ${g.name || short(g.id)}` }, 'firewall');
    const targets = new Set((g.ports || []).map((pid) => (routerOfPort.has(pid)
      ? `router:${routerOfPort.get(pid)}` : `port:${pid}`)));
    targets.forEach((t) => edge(`firewall_group:${g.id}`, t, {}, 'guards'));
  }
  return { nodes, edges };
}
