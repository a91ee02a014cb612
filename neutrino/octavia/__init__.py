"""The Octavia v2 load-balancing API (/v2/lbaas/...) served next to the
Neutron API, with the server's side of the neutrino-lb-agent protocol.

- faults.py      Octavia's error bodies ({"faultcode", "faultstring", "debuginfo"})
- schema.py      attribute types, defaults and validation per resource (WSME's wording)
- policy.py      Octavia's default policy rules (merged into the server's enforcer)
- store.py       rows <-> views, the tree lock ("immutable while pending"), versions
- vip.py         the VIP port and its `lb-<id>` security group
- scheduler.py   load balancer -> live Loadbalancer agent
- loadbalancers.py, listeners.py, pools.py, members.py, healthmonitors.py,
  l7.py          one resource each
- quotas.py      /v2/lbaas/quotas
- payload.py     get_loadbalancers(host): the agent's desired state
- statuses.py    the agent's reports: PENDING_* -> ACTIVE/ERROR, deletions, stats
- routes.py      the HTTP routes
"""
