"""haproxy `show stat` -> Octavia operating statuses and listener
statistics, as the LB agent reports them."""
from __future__ import annotations

from neutrino.agent.lb.stats import parse_stat, statuses
from tests.unit.lb_samples import listener, loadbalancer, member, monitor, pool

HEADER = ("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,"
          "wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,"
          "sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,")


def row(px, sv, status, scur=0, stot=0, bin_=0, bout=0, ereq=""):
    fields = [px, sv, "", "", str(scur), "", "", str(stot), str(bin_), str(bout), "", "", ereq,
              "", "", "", "", status] + [""] * 18 + [""]
    return ",".join(fields)


def stat(*rows):
    return "\n".join([HEADER, *rows, ""])


def lb_with_monitor(**pool_kw):
    return loadbalancer(pools=[pool(healthmonitor=monitor(), members=[
        member("m1"), member("m2", "10.0.0.12"), member("m3", "10.0.0.13")], **pool_kw)])


def test_parse_stat_keys_rows_by_proxy_and_server():
    rows = parse_stat(stat(row("lis1", "FRONTEND", "OPEN", 3, 10, 100, 200, "1"),
                           row("pool1", "m1", "UP")))
    assert rows[("lis1", "FRONTEND")]["scur"] == "3"
    assert rows[("pool1", "m1")]["status"] == "UP"
    assert parse_stat("") == {} and parse_stat("Unknown command\n") == {}


def test_all_up_is_online_with_statistics():
    lb = lb_with_monitor()
    report = statuses(lb, parse_stat(stat(
        row("lis1", "FRONTEND", "OPEN", 2, 30, 1000, 5000, "1"), row("pool1", "m1", "UP"),
        row("pool1", "m2", "UP 1/3"), row("pool1", "m3", "UP"), row("pool1", "BACKEND", "UP"))))
    assert report["operating_status"] == "ONLINE"
    assert report["listeners"] == {"lis1": "ONLINE"}
    assert report["pools"] == {"pool1": "ONLINE"}
    assert report["members"] == {"m1": "ONLINE", "m2": "ONLINE", "m3": "ONLINE"}
    assert report["stats"]["listeners"]["lis1"] == {
        "bytes_in": 1000, "bytes_out": 5000, "active_connections": 2, "total_connections": 30,
        "request_errors": 1}


def test_one_member_down_degrades_pool_listener_and_lb():
    report = statuses(lb_with_monitor(), parse_stat(stat(
        row("lis1", "FRONTEND", "OPEN"), row("pool1", "m1", "UP"), row("pool1", "m2", "DOWN"),
        row("pool1", "m3", "DOWN 1/2"))))
    assert report["members"] == {"m1": "ONLINE", "m2": "ERROR", "m3": "ERROR"}
    assert report["pools"]["pool1"] == "DEGRADED"
    assert report["listeners"]["lis1"] == "DEGRADED"
    assert report["operating_status"] == "DEGRADED"


def test_all_members_down_is_pool_error():
    report = statuses(lb_with_monitor(), parse_stat(stat(
        row("lis1", "FRONTEND", "OPEN"), row("pool1", "m1", "DOWN"), row("pool1", "m2", "DOWN"),
        row("pool1", "m3", "DOWN"))))
    assert report["pools"]["pool1"] == "ERROR"
    assert report["operating_status"] == "DEGRADED"


def test_no_monitor_and_admin_down():
    lb = loadbalancer(pools=[pool(members=[member("m1"),
                                           member("m2", "10.0.0.12", admin_state_up=False)])])
    report = statuses(lb, parse_stat(stat(row("lis1", "FRONTEND", "OPEN"),
                                          row("pool1", "m1", "no check"),
                                          row("pool1", "m2", "MAINT"))))
    assert report["members"] == {"m1": "NO_MONITOR", "m2": "OFFLINE"}
    assert report["pools"]["pool1"] == "ONLINE"
    assert report["operating_status"] == "ONLINE"
    down = loadbalancer(admin_state_up=False, listeners=[listener(admin_state_up=False)])
    report = statuses(down, parse_stat(stat(row("lis1", "FRONTEND", "STOP"))))
    assert report["listeners"]["lis1"] == "OFFLINE" and report["operating_status"] == "OFFLINE"


def test_maint_member_is_offline_and_missing_frontend_is_offline():
    # a listener haproxy does not (yet) show, e.g. stats read across a reload,
    # is OFFLINE as in Octavia (not ERROR, on which clients waiting for ONLINE give up)
    report = statuses(lb_with_monitor(), parse_stat(stat(
        row("pool1", "m1", "MAINT"), row("pool1", "m2", "UP"), row("pool1", "m3", "UP"))))
    assert report["members"]["m1"] == "OFFLINE"
    assert report["listeners"]["lis1"] == "OFFLINE"
    assert report["operating_status"] == "ONLINE"


def test_stopped_frontend_is_error():
    report = statuses(lb_with_monitor(), parse_stat(stat(
        row("lis1", "FRONTEND", "STOP"), row("pool1", "m1", "UP"), row("pool1", "m2", "UP"),
        row("pool1", "m3", "UP"))))
    assert report["listeners"]["lis1"] == "ERROR"
    assert report["operating_status"] == "DEGRADED"


def test_haproxy_not_running_is_error():
    report = statuses(lb_with_monitor(), None)
    assert report["operating_status"] == "ERROR"
    assert report["listeners"]["lis1"] == "ERROR"
    assert report["pools"]["pool1"] == "ERROR"


def test_a_pool_no_listener_uses_is_offline():
    lb = loadbalancer(listeners=[], pools=[pool(healthmonitor=monitor()),
                                           pool("pool2", members=[member("m9")])])
    report = statuses(lb, parse_stat(stat(row("pool1", "m1", "UP"), row("pool1", "m2", "UP"))))
    assert report["pools"] == {"pool1": "OFFLINE", "pool2": "OFFLINE"}
    assert report["members"] == {"m1": "OFFLINE", "m2": "OFFLINE", "m9": "NO_MONITOR"}
    assert report["operating_status"] == "ONLINE"
    # used through an L7 redirect: a real status again
    from tests.unit.lb_samples import policy, rule
    lb = loadbalancer(listeners=[listener(l7policies=[policy(
        "p", 1, "REDIRECT_TO_POOL", [rule("r")], redirect_pool_id="pool2")])],
        pools=[pool(), pool("pool2", members=[member("m9")])])
    report = statuses(lb, parse_stat(stat(row("lis1", "FRONTEND", "OPEN"))))
    assert report["pools"]["pool2"] == "ONLINE"
