#!/usr/bin/env bash
# conformance/run.sh: upstream tempest + neutron-tempest-plugin + octavia-tempest-plugin
# against neutrino.
#
#   conformance/run.sh [--selection core|wide|l3|fwaas|octavia|ext|all] [--concurrency N] [--keep]
#                      [--network-node|--no-network-node] [-- EXTRA_REGEX...]
#
# 1. A venv with the pinned tempest, neutron-tempest-plugin and
#    octavia-tempest-plugin (conformance/requirements.txt) at $NEUTRINO_TEMPEST_VENV
#    (default /var/tmp/neutrino-tempest-venv), made once and reused while the
#    requirements file is unchanged.
# 2. neutrino-server on a free 127.0.0.1 port, auth_strategy = keystone with the
#    embedded identity, its state in a temp dir.
# 3. Pre-provisioned accounts (accounts.yaml) created in the embedded identity: an
#    admin per worker and, per worker, two projects each with a member and a
#    reader; tempest.conf pointing at neutrino, with the extensions it lists.
# 4. `tempest run` of the selection, then the pass/fail/skip counts and every
#    failure (conformance/summarize.py; known causes in known_failures.yaml).
#
# Selections: core = neutron_tempest_plugin.api test_networks*, test_subnets,
# test_ports*, test_extensions, admin.test_networks, admin.test_ports;
# wide = core + the tempest.api.network equivalents and the security group,
# shared/external network, timestamp, revision and tag modules;
# l3 = the router and floating IP modules of both; fwaas =
# neutron_tempest_plugin.fwaas.api; octavia = octavia_tempest_plugin.tests.api.v2
# (load balancers, listeners, pools, members, health monitors, L7 policies and
# rules, providers, amphorae), run with its own tempest-octavia.conf
# (provision.py octavia_conf); ext = the modules of the extensions of issue 16
# (X_* below); all = wide + l3 + fwaas + octavia + ext.
# Network node (default for l3, fwaas, octavia and all, needs root): the server
# runs with a Linux bridge agent and an L3 agent on a simulated host
# (network_node.py), since tempest waits for router ports (and firewall groups)
# to become ACTIVE; with octavia tests also the load-balancer agent, since the
# plugin waits for load balancers to become ACTIVE.
# Output: the work dir (printed) holds tempest.conf, accounts.yaml, tempest.log,
# neutrino's server.log, results.subunit and results.json.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
NVENV="$ROOT/.venv"
TVENV="${NEUTRINO_TEMPEST_VENV:-/var/tmp/neutrino-tempest-venv}"
PYTHON="${NEUTRINO_TEMPEST_PYTHON:-python3.11}"
SELECTION=core
CONCURRENCY=2
KEEP=0
NODE=auto
EXTRA=()

while [ $# -gt 0 ]; do
    case "$1" in
        --selection) SELECTION=$2; shift 2 ;;
        --concurrency) CONCURRENCY=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --network-node) NODE=yes; shift ;;
        --no-network-node) NODE=no; shift ;;
        --) shift; EXTRA=("$@"); break ;;
        -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

log() { printf 'conformance: %s\n' "$*"; }

# --- 1. the tempest venv -------------------------------------------------------------
want=$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$TVENV/bin/tempest" ] || [ "$(cat "$TVENV/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
    command -v "$PYTHON" >/dev/null || PYTHON=python3
    log "creating $TVENV (tempest and its plugins from PyPI; a few minutes)"
    rm -rf "$TVENV"
    "$PYTHON" -m venv "$TVENV"
    "$TVENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
    "$TVENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"
    echo "$want" > "$TVENV/.requirements.sha256"
fi

# --- 2. neutrino ---------------------------------------------------------------------------
WORK=$(mktemp -d /var/tmp/neutrino-conformance-XXXXXX)
PORT=$("$NVENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ADMIN_PASSWORD=$("$NVENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(16))')
mkdir -p "$WORK/state" "$WORK/locks"
cat > "$WORK/neutron.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $PORT
api_workers = 2
auth_strategy = keystone
state_path = $WORK/state
log_file = $WORK/server.log
# as upstream's gate: a non-default domain, so that ports keep their dns_name
dns_domain = openstackgate.local

[ml2]
type_drivers = local,flat,vlan,vxlan
tenant_network_types = vxlan
mechanism_drivers = linuxbridge
extension_drivers = port_security

[ml2_type_vxlan]
# devstack's: test_network_segment_range expects tenant VNIs within 1..2000
vni_ranges = 1001:2000

[ml2_type_vlan]
network_vlan_ranges = physnet1:1000:1999

[ml2_type_flat]
flat_networks = *

[quotas]
# as neutron-tempest-plugin's gate jobs: a class's routers are removed only
# at its end (RoutersTest makes 12)
quota_router = 100
quota_floatingip = 500

[oslo_policy]
policy_file = $WORK/policy.yaml

[identity]
admin_password = $ADMIN_PASSWORD
EOF

SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM -- "-$SERVER_PID" 2>/dev/null || kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
    fi
    if [ "$KEEP" = 0 ]; then rm -rf "$WORK/state"; fi
}
trap cleanup EXIT

# --- selections (before the server: they decide what it runs) ---------------------------
NTP=neutron_tempest_plugin.api
CORE="^${NTP}\.(test_networks|test_networks_negative|test_subnets|test_ports|test_ports_negative|test_extensions|admin\.test_networks|admin\.test_ports)\."
WIDE="^(${NTP}\.(test_networks|test_networks_negative|test_subnets|test_ports|test_ports_negative|test_extensions|test_extension_driver_port_security|test_security_groups|test_security_groups_negative|test_timestamp|test_revisions|admin\.test_networks|admin\.test_ports|admin\.test_shared_network_extension|admin\.test_external_network_extension|admin\.test_security_groups|admin\.test_tag)|tempest\.api\.network\.(test_networks|test_networks_negative|test_ports|test_extensions|test_versions|test_security_groups|test_security_groups_negative|test_allowed_address_pair|test_tags|admin\.test_ports|admin\.test_external_network_extension|admin\.test_external_networks_negative))\."
L3="^(tempest\.api\.network\.(test_routers|test_routers_negative|test_floating_ips|test_floating_ips_negative|admin\.test_routers|admin\.test_routers_negative|admin\.test_routers_dvr|admin\.test_floating_ips_admin_actions)|${NTP}\.(test_routers|test_routers_negative|test_floating_ips|test_floating_ips_negative|test_router_interface_fip|admin\.test_routers_flavors|admin\.test_routers_ha|admin\.test_floating_ips_admin_actions))\."
FWAAS="^neutron_tempest_plugin\.fwaas\.api\."
# flavors, flavor profiles and availability zones (admin CRUD) are left out:
# neutrino does not offer them (README.md)
OCTAVIA="^octavia_tempest_plugin\.tests\.api\.v2\.(test_load_balancer|test_listener|test_pool|test_member|test_healthmonitor|test_l7policy|test_l7rule|test_provider|test_amphora)\."
# The extensions of issue 16: one variable per feature (each a full regex, or empty)
X_POOLS="^(${NTP}\.(test_subnetpools|test_subnetpools_negative|test_subnetpool_prefix_ops|test_address_scopes|test_address_scopes_negative|test_network_ip_availability|test_network_ip_availability_negative|admin\.test_tag)|tempest\.api\.network\.(test_subnetpools_extensions|test_tags))\."   # address scopes, subnet pools, network-ip-availability
X_RBAC="^${NTP}\.(admin\.test_shared_network_extension|admin\.test_external_network_extension|test_address_groups|admin\.test_default_security_group_rules|test_security_groups|test_security_groups_negative|admin\.test_security_groups)\."    # rbac-policies, address groups, stateless and shared security groups
X_QOS="^${NTP}\.(test_qos|test_qos_negative)\."     # qos and its rule types
X_TRUNK="^${NTP}\.(test_trunk|test_trunk_details|test_trunk_negative|admin\.test_ports|admin\.test_quotas_negative)\."   # trunks and the port attribute extensions
X_L3X="^(${NTP}\.(test_port_forwardings|test_port_forwarding_negative|test_conntrack_helper|test_floating_ips|test_routers|test_routers_negative|test_metering_extensions|test_metering_negative|test_flavors_extensions|admin\.test_routers_flavors)|tempest\.api\.network\.(test_floating_ips|test_routers|admin\.test_routers_dvr|admin\.test_metering_extensions))\."     # port forwarding, conntrack helpers, flavors, metering, FIP extras
X_DNS="^(${NTP}\.(test_availability_zones|admin\.test_agent_availability_zone|test_ports|test_networks|test_revisions)|tempest\.api\.network\.test_extra_dhcp_options)\."     # dns integration, extra DHCP options, availability zones
X_SEG="^(${NTP}\.(admin\.test_network_segment_range|test_auto_allocated_topology|test_service_type_management|test_subnets|test_timestamp|test_revisions)|tempest\.api\.network\.test_service_providers)\."     # segments, segment ranges, auto-allocated topology, service types
EXT=
for x in "$X_POOLS" "$X_RBAC" "$X_QOS" "$X_TRUNK" "$X_L3X" "$X_DNS" "$X_SEG"; do
    [ -n "$x" ] && EXT="${EXT:+$EXT|}$x"
done
# REGEX runs with tempest.conf, OREGEX (octavia-tempest-plugin) with tempest-octavia.conf
REGEX= OREGEX=
add() {   # add() REGEX: to the run whose plugin the regex names
    case "$1" in *octavia_tempest_plugin*) OREGEX="${OREGEX:+$OREGEX|}$1" ;;
                 *) REGEX="${REGEX:+$REGEX|}$1" ;; esac
}
case "$SELECTION" in
    core) add "$CORE" ;;
    wide) add "$WIDE" ;;
    l3) add "$L3" ;;
    fwaas) add "$FWAAS" ;;
    octavia) add "$OCTAVIA" ;;
    ext) add "${EXT:-^$}" ;;
    all) add "$WIDE|$L3|$FWAAS"; add "$OCTAVIA"; [ -z "$EXT" ] || add "$EXT" ;;
    *) add "$SELECTION" ;;
esac
for extra in ${EXTRA[@]+"${EXTRA[@]}"}; do add "$extra"; done

if [ "$NODE" = auto ]; then
    case "$SELECTION" in l3|fwaas|octavia|ext|all) NODE=yes ;; *) NODE=no ;; esac
fi
if [ "$NODE" = yes ] && [ "$(id -u)" != 0 ]; then
    log "no network node (needs root): router interface cleanups will wait for ACTIVE and fail"
    NODE=no
fi
if [ "$NODE" = yes ]; then
    # API + Linux bridge agent + L3 agent in one process, the agents on a
    # simulated host (network_node.py): router ports become ACTIVE as on a cloud.
    log "work dir $WORK; neutrino with a network node on 127.0.0.1:$PORT"
    NODE_ARGS=()
    if [ -n "$OREGEX" ]; then NODE_ARGS+=(--lb-agent); fi
    setsid "$NVENV/bin/python" "$HERE/network_node.py" --config-file "$WORK/neutron.conf" \
        --work "$WORK" ${NODE_ARGS[@]+"${NODE_ARGS[@]}"} > "$WORK/server.out" 2>&1 &
else
    log "work dir $WORK; neutrino on 127.0.0.1:$PORT"
    setsid "$NVENV/bin/neutrino-server" --config-file "$WORK/neutron.conf" > "$WORK/server.out" 2>&1 &
fi
SERVER_PID=$!
for _ in $(seq 1 150); do
    if curl -sf "http://127.0.0.1:$PORT/" >/dev/null 2>&1; then break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.out"; exit 1; }
    sleep 0.2
done

# --- 3. accounts and tempest.conf ----------------------------------------------------------
"$NVENV/bin/python" "$HERE/provision.py" accounts --config-file "$WORK/neutron.conf" \
    --workers "$CONCURRENCY" --out "$WORK/accounts.yaml"
(cd "$WORK" && "$TVENV/bin/tempest" init --workspace-path "$WORK/workspace.yaml" \
    --name "$(basename "$WORK")" ws >/dev/null)
"$NVENV/bin/python" "$HERE/provision.py" tempest-conf --url "http://127.0.0.1:$PORT" \
    --accounts "$WORK/accounts.yaml" --out "$WORK/ws/etc/tempest.conf" \
    --log-dir "$WORK" --lock-dir "$WORK/locks" --octavia-out "$WORK/ws/etc/tempest-octavia.conf"

# --- 4. tempest -----------------------------------------------------------------------------
: > "$WORK/results.subunit"
rc=0
run_tempest() {   # run_tempest NAME CONF REGEX: one tempest run, its results appended
    local name=$1 conf=$2 regex=$3 one
    log "tempest run $name --concurrency $CONCURRENCY (selection: $SELECTION)"
    set +e
    (cd "$WORK/ws" && "$TVENV/bin/tempest" run --config-file "$conf" --regex "$regex" \
        --concurrency "$CONCURRENCY" > "$WORK/tempest-run-$name.out" 2>&1)
    one=$?
    set -e
    if [ "$one" -gt "$rc" ]; then rc=$one; fi
    (cd "$WORK/ws" && "$TVENV/bin/stestr" last --subunit >> "$WORK/results.subunit" 2>/dev/null) || true
    tail -n 8 "$WORK/tempest-run-$name.out"
}
start=$(date +%s)
if [ -n "$REGEX" ]; then run_tempest network "$WORK/ws/etc/tempest.conf" "$REGEX"; fi
if [ -n "$OREGEX" ]; then run_tempest octavia "$WORK/ws/etc/tempest-octavia.conf" "$OREGEX"; fi
end=$(date +%s)
"$TVENV/bin/python" "$HERE/summarize.py" "$WORK/results.subunit" --json "$WORK/results.json" \
    --known "$HERE/known_failures.yaml"
log "tempest took $((end - start)) s (exit $rc); results in $WORK"
