"""`neutrino lab ...`: a multi-host lab on this machine, made of namespaces.

    neutrino lab up --hosts 2 [--port 9696] [--transport inproc|rabbit]
                    [--db sqlite|postgresql|mariadb] [--servers N] [--l2pop] [--l3-hosts H,..]
                    [--auth noauth|keystone] [--no-firewall]
                    [--firewall-driver iptables|nftables]
    neutrino lab status [--json]
    neutrino lab openrc admin|demo        (keystone labs: the seed's admin-openrc.sh / demo-openrc.sh)
    neutrino lab down
    neutrino lab instance create --network NET [--project P] [--host H] [--ip IP] NAME
    neutrino lab instance delete NAME | list [--json] | exec NAME -- CMD | shell NAME
    neutrino lab outside exec -- CMD
    neutrino lab host exec HOST -- CMD
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from neutrino.agent_options import IPTABLES_BACKENDS
from neutrino.lab.state import DEFAULT_RABBIT_URL


def add_parser(sub: argparse._SubParsersAction) -> None:
    lab = sub.add_parser("lab", help="simulated multi-host lab (namespaces)")
    lsub = lab.add_subparsers(dest="lab_command", required=True)

    up = lsub.add_parser("up", help="build the lab and start server and agents")
    up.add_argument("--hosts", type=int, default=2)
    up.add_argument("--port", type=int, default=9696, help="API port on 127.0.0.1 (0: any)")
    up.add_argument("--transport", choices=("inproc", "rabbit"), default="inproc")
    up.add_argument("--rabbit-url", default=DEFAULT_RABBIT_URL)
    up.add_argument("--db", choices=("sqlite", "postgresql", "mariadb"), default="sqlite",
                    help="sqlite in the lab directory, or a new database on this machine's "
                         "PostgreSQL (127.0.0.1:5432) or MariaDB (127.0.0.1:3306), dropped "
                         "by `lab down`")
    up.add_argument("--servers", type=int, default=1,
                    help="API server processes (2+: --transport rabbit and a shared --db)")
    up.add_argument("--l2pop", action="store_true",
                    help="l2population mechanism driver; agents with l2_population and "
                         "arp_responder (no multicast group)")
    up.add_argument("--l3-hosts", help="comma-separated hosts running an L3 agent "
                                       "(default: all)")
    up.add_argument("--no-firewall", dest="firewall", action="store_false",
                    help="do not enforce security groups (noop firewall driver); by default "
                         "the L2 agents enforce them with iptables, as upstream")
    up.add_argument("--firewall", dest="firewall", action="store_true",
                    help=argparse.SUPPRESS)   # the default now; still accepted
    up.add_argument("--firewall-driver", choices=("iptables", "nftables"), default="iptables",
                    help="the L2 agents' [securitygroup] firewall_driver (default iptables, "
                         "as upstream)")
    up.add_argument("--iptables-backend", choices=IPTABLES_BACKENDS, default="auto",
                    help="the iptables driver's tools, [securitygroup] iptables_backend "
                         "(default auto: the iptables on PATH, as upstream)")
    up.add_argument("--auth", choices=("noauth", "keystone"), default="noauth",
                    help="keystone: the embedded identity with the seed's admin and demo "
                         "projects and users (see `neutrino lab openrc`)")
    up.add_argument("--dhcp-hosts", help="comma-separated hosts running a DHCP agent "
                                         "(default: host1)")
    up.add_argument("--dhcp-agents-per-network", type=int, default=1,
                    help="the server's dhcp_agents_per_network (2+: several dnsmasq per "
                         "network, on different hosts)")
    up.set_defaults(func=cmd_up, firewall=True)

    rc = lsub.add_parser("openrc", help="print a keystone lab user's openrc "
                                        "(source <(neutrino lab openrc demo))")
    rc.add_argument("user", choices=("admin", "demo"))
    rc.set_defaults(func=cmd_openrc)

    st = lsub.add_parser("status", help="hosts, agents, API URL")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_status)

    down = lsub.add_parser("down", help="remove everything the lab made")
    down.set_defaults(func=cmd_down)

    inst = lsub.add_parser("instance", help="namespace instances (VM stand-ins)")
    isub = inst.add_subparsers(dest="instance_command", required=True)
    create = isub.add_parser("create")
    create.add_argument("--network", required=True, help="network name or id")
    create.add_argument("--project", help="project (name or id) owning the instance's port; "
                                          "default: the network's project")
    create.add_argument("--host", help="lab host (default host1)")
    create.add_argument("--ip", help="fixed IP to ask for")
    create.add_argument("--no-wait", action="store_true", help="do not wait for ACTIVE")
    create.add_argument("--no-dhcp", action="store_true",
                        help="set the port's addresses statically instead of running a "
                             "DHCP client (udhcpc) in the instance")
    create.add_argument("--user-data", metavar="FILE",
                        help="user data served by the lab's metadata service "
                             "(http://169.254.169.254/openstack/latest/user_data)")
    create.add_argument("name")
    create.set_defaults(func=cmd_instance_create)
    delete = isub.add_parser("delete")
    delete.add_argument("name")
    delete.set_defaults(func=cmd_instance_delete)
    lst = isub.add_parser("list")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_instance_list)
    ex = isub.add_parser("exec", help="run a command in the instance")
    ex.add_argument("name")
    ex.add_argument("argv", nargs=argparse.REMAINDER)
    ex.set_defaults(func=cmd_instance_exec)
    sh = isub.add_parser("shell", help="interactive shell in the instance")
    sh.add_argument("name")
    sh.set_defaults(func=cmd_instance_shell)

    dc = lsub.add_parser("dhcp-check", help="look for DHCP servers other than neutrino's "
                                           "on a network's segment")
    dc.add_argument("network", help="network name or id")
    dc.add_argument("--host", help="lab host whose bridge to probe from")
    dc.add_argument("--json", action="store_true")
    dc.set_defaults(func=cmd_dhcp_check)

    out = lsub.add_parser("outside", help="the outside world (203.0.113.254 on physnet external)")
    osub = out.add_subparsers(dest="outside_command", required=True)
    oex = osub.add_parser("exec")
    oex.add_argument("argv", nargs=argparse.REMAINDER)
    oex.set_defaults(func=cmd_outside_exec)

    host = lsub.add_parser("host", help="a simulated host's namespace")
    hsub = host.add_subparsers(dest="host_command", required=True)
    hex_ = hsub.add_parser("exec")
    hex_.add_argument("host")
    hex_.add_argument("argv", nargs=argparse.REMAINDER)
    hex_.set_defaults(func=cmd_host_exec)
    hstop = hsub.add_parser(
        "stop", help="pull the plug: stop every process of the host (its agents, dnsmasq, "
                     "keepalived, haproxy) by PID and set its underlay links down (rabbit labs)")
    hstop.add_argument("host")
    hstop.add_argument("--kill", dest="mode", action="store_const", const="kill",
                       default="freeze",
                       help="SIGKILL (a power loss: `start` starts the agents again) instead "
                            "of SIGSTOP (a hang: `start` resumes them)")
    hstop.set_defaults(func=cmd_host_stop)
    hstart = hsub.add_parser("start", help="bring a stopped host back: its agents resume (or "
                                           "start), report to the server, then its links "
                                           "come up")
    hstart.add_argument("host")
    hstart.add_argument("--timeout", type=float, default=60.0)
    hstart.set_defaults(func=cmd_host_start)


def _control(args):
    from neutrino.lab.control import LabControl
    return LabControl.load(args.lab_dir)


def _argv(argv: list[str]) -> list[str]:
    argv = argv[1:] if argv and argv[0] == "--" else argv
    if not argv:
        raise SystemExit("neutrino lab: a command is needed after --")
    return argv


def _exec_in(netns: str, argv: list[str]) -> int:
    # `ip netns exec` also remounts /sys for the namespace (brctl, ip -d use it).
    return subprocess.call(["ip", "netns", "exec", netns, *argv])


def cmd_up(args) -> int:
    from neutrino.lab.control import LabControl
    l3_hosts = [h.strip() for h in args.l3_hosts.split(",") if h.strip()] \
        if args.l3_hosts else None
    try:
        ctl = LabControl.up(hosts=args.hosts, port=args.port, transport=args.transport,
                            lab_dir=args.lab_dir, rabbit_url=args.rabbit_url, db=args.db,
                            servers=args.servers, l2pop=args.l2pop, l3_hosts=l3_hosts,
                            firewall=args.firewall, auth=args.auth,
                            firewall_driver=args.firewall_driver,
                            iptables_backend=args.iptables_backend,
                            dhcp_hosts=[h.strip() for h in args.dhcp_hosts.split(",")
                                        if h.strip()] if args.dhcp_hosts else None,
                            dhcp_agents_per_network=args.dhcp_agents_per_network)
    except ValueError as exc:
        print(f"neutrino lab up: {exc}", file=sys.stderr)
        return 2
    st = ctl.state
    print(f"lab {st.prefix.rstrip('-')} is up: {st.n_hosts} host(s), transport {st.transport}, "
          f"database {st.db}{', l2population' if st.l2pop else ''}, security groups "
          f"{f'on ({st.firewall_driver})' if st.firewall else 'off'}, auth {st.auth}")
    print(f"API: {', '.join(st.server_urls())}")
    if st.auth == "keystone":
        print(f"identity: {st.identity_url}; users (project, password):")
        for user, password in st.passwords.items():
            print(f"  {user:<6} ({user} project) {password}")
        print("  source <(neutrino lab openrc demo)     # or admin")
    else:
        print(f"  export OS_AUTH_TYPE=none OS_ENDPOINT={st.api_url}   # or: neutrino lab status")
    return 0


def cmd_openrc(args) -> int:
    sys.stdout.write(_control(args).openrc(args.user))
    return 0


def cmd_status(args) -> int:
    ctl = _control(args)
    status = ctl.status()
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print(f"lab {status['prefix'].rstrip('-')} in {status['lab_dir']}")
    print(f"  API        {status['api_url']} ({'up' if status['api_up'] else 'DOWN'}), "
          f"runtime pid {status['runtime_pid']}")
    print(f"  transport  {status['transport_url']} ({status['control_exchange']})")
    print(f"  database   {status['database']}, API servers {', '.join(status['api_servers'])}, "
          f"l2population {'on' if status['l2_population'] else 'off'}")
    driver = status.get("firewall_driver", "iptables")
    if driver == "iptables" and status.get("iptables_backend", "auto") != "auto":
        driver += f", {status['iptables_backend']} backend"
    print(f"  security   groups "
          f"{f'enforced ({driver})' if status['firewall'] else 'off (--no-firewall)'}, "
          f"auth {status['auth']}"
          + (" (neutrino lab openrc admin|demo)" if status["auth"] == "keystone" else ""))
    print(f"  outside    {status['outside']['ip']} in {status['outside']['netns']}")
    for host in status["hosts"]:
        agent = host["agent"]
        state = ("alive" if agent["alive"] else "DEAD") if agent else "no agent"
        devices = agent["devices"] if agent else 0
        print(f"  {host['name']:<8} netns {host['netns']:<18} vtep {host['vtep_ip']:<13} "
              f"linuxbridge agent: {state}, {devices} device(s)"
              + (f", STOPPED ({host['stopped']})" if host.get("stopped") else ""))
    return 0


def cmd_down(args) -> int:
    from neutrino.lab.control import LabControl
    from neutrino.lab.errors import LabError
    try:
        ctl = LabControl.load(args.lab_dir)
    except LabError as exc:
        print(f"neutrino lab down: {exc}", file=sys.stderr)
        return 1
    ctl.down()
    print("lab removed")
    return 0


def cmd_instance_create(args) -> int:
    ctl = _control(args)
    fixed = [{"ip_address": args.ip}] if args.ip else None
    try:
        user_data = open(args.user_data, "rb").read() if args.user_data else None
    except OSError as exc:
        print(f"neutrino lab instance create: --user-data: {exc}", file=sys.stderr)
        return 2
    inst = ctl.instances.create(args.name, args.network, host=args.host, fixed_ips=fixed,
                                dhcp=not args.no_dhcp, project=args.project,
                                user_data=user_data)
    if not args.no_wait:
        ctl.wait_port_status(inst.port_id, "ACTIVE", timeout=30)
    print(f"instance {inst.name} on {inst.host}: port {inst.port_id} mac {inst.mac} "
          f"ip {', '.join(inst.ips) or '-'} project {inst.project_id or '-'} "
          f"(netns {inst.netns}, tap {inst.tap})")
    if inst.lease:
        lease = inst.lease
        print(f"  DHCP lease from {lease.get('serverid')}: {lease.get('ip')}/{lease.get('mask')}"
              f" router {lease.get('router') or '-'} mtu {lease.get('mtu') or '-'}"
              f" dns {lease.get('dns') or '-'} hostname {lease.get('hostname') or '-'}"
              f" lease {lease.get('lease')} s")
    return 0


def cmd_dhcp_check(args) -> int:
    report = _control(args).dhcp_check(args.network, host=args.host)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"network {report['network_id']}: probed from {report['host']} "
              f"({report['bridge']}); neutrino DHCP at {', '.join(report['dhcp_ports']) or '-'}")
        if report["ok"]:
            print("OK: no other DHCP server answered")
        for r in report["rogue_servers"]:
            print(f"ROGUE DHCP server {r['server_id']} (from {r['source_ip']}) offered "
                  f"{r['offered_ip']}" + (f" router {r['router']}" if r["router"] else ""))
    return 0 if report["ok"] else 1


def cmd_instance_delete(args) -> int:
    _control(args).instances.delete(args.name)
    return 0


def cmd_instance_list(args) -> int:
    ctl = _control(args)
    items = ctl.instances.list()
    if args.json:
        print(json.dumps([{"name": i.name, "host": i.host, "port_id": i.port_id,
                           "network_id": i.network_id, "project_id": i.project_id,
                           "mac": i.mac,
                           "ips": [ip.split("/")[0] for ip in i.ips], "netns": i.netns,
                           "tap": i.tap} for i in items], indent=2))
        return 0
    print(f"{'NAME':<12} {'HOST':<7} {'PROJECT':<32} {'PORT':<36} {'MAC':<17} IPS")
    for i in items:
        print(f"{i.name:<12} {i.host:<7} {i.project_id or '-':<32} {i.port_id:<36} "
              f"{i.mac:<17} {', '.join(i.ips)}")
    return 0


def cmd_instance_exec(args) -> int:
    inst = _control(args).instances.require(args.name)
    return _exec_in(inst.netns, _argv(args.argv))


def cmd_instance_shell(args) -> int:
    inst = _control(args).instances.require(args.name)
    shell = os.environ.get("SHELL", "/bin/sh")
    env = dict(os.environ, PS1=f"[{inst.name}] \\w# ")
    return subprocess.call(["ip", "netns", "exec", inst.netns, shell, "-i"], env=env)


def cmd_outside_exec(args) -> int:
    ctl = _control(args)
    return _exec_in(ctl.state.topology().outside_netns, _argv(args.argv))


def cmd_host_exec(args) -> int:
    ctl = _control(args)
    return _exec_in(ctl.state.host_netns(args.host), _argv(args.argv))


def cmd_host_stop(args) -> int:
    from neutrino.lab.errors import LabError
    try:
        record = _control(args).stop_host(args.host, args.mode)
    except LabError as exc:
        print(f"neutrino lab host stop: {exc}", file=sys.stderr)
        return 2
    verb = "frozen" if record["mode"] == "freeze" else "killed"
    print(f"{args.host} stopped: {len(record['pids'])} process(es) {verb}, underlay links down")
    return 0


def cmd_host_start(args) -> int:
    from neutrino.lab.errors import LabError
    try:
        done = _control(args).start_host(args.host, timeout=args.timeout)
    except LabError as exc:
        print(f"neutrino lab host start: {exc}", file=sys.stderr)
        return 2
    if done["mode"] is None:
        print(f"{args.host} was not stopped (underlay links up)")
    else:
        print(f"{args.host} is back: {len(done['resumed'])} process(es) resumed, "
              f"{len(done['started'])} agent(s) started, agents reported, underlay links up")
    return 0
