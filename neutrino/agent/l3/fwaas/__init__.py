"""FWaaS v2 in the L3 agent: firewall groups on router ports, enforced in the
router's namespace (model: the server's data; plan: pure render and diff;
apply: the kernel; extension: the hook the L3 agent calls)."""
