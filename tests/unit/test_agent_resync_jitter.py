"""Periodic full resyncs of agents started together must not stay in step
(the fleet benchmark: 100 hosts started within 2 s fetched their whole state
in the same second every resync_interval, and single creates waited 28 s)."""
from neutrino.agent.threads import next_full_resync


def test_agents_started_together_resync_at_different_times():
    due = [next_full_resync(1000.0, 600.0) for _ in range(100)]
    assert max(due) - min(due) > 60.0          # spread over more than a tenth of the interval


def test_a_full_resync_is_never_later_than_the_interval():
    due = [next_full_resync(0.0, 60.0) for _ in range(1000)]
    assert all(48.0 <= d <= 60.0 for d in due)
