"""FWaaS v2 (upstream's `fwaas_v2` extension): firewall rules, policies and
groups under /v2.0/fwaas/, enforced by the L3 agents on router ports."""
