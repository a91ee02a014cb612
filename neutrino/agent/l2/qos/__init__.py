"""The L2 agent's QoS: bandwidth limits and DSCP marks on the ports' taps
(plan.py: pure; agent.py: learning what the server sends, observing and
applying with tc and nft)."""
