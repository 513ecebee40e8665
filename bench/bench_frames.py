"""Session.feed_identities(copy=False) of received zmq.Frames with a 64 MiB identity frame."""

import pytest
from _harness import impl_params, run_case


@pytest.mark.parametrize("impl", impl_params("feed_identities"))
def test_feed_identities_64mib_ident(benchmark, env, impl):
    # jupyter_client copies the 64 MiB frame on every call: few rounds
    run_case(benchmark, env, "feed_identities", impl, rounds=10 if impl.name == "jupyter_client" else 200)
