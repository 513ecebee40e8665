"""Round trips over ipc (PAIR sockets in one process), and a 1 GiB receive's peak memory.

The floors take part too: raw pyzmq moving the same frames copied and not copied, and for
the 4 MiB display_data the work floor (orjson pack, two HMACs, unpack, and the same move).
"""

import pytest
from _harness import impl_params, run_case

from jsession import bench as jb


@pytest.mark.parametrize("impl", impl_params("roundtrip_small"))
def test_roundtrip_small_execute_request(benchmark, env, impl):
    run_case(benchmark, env, "roundtrip_small", impl, rounds=2000)


@pytest.mark.parametrize("impl", impl_params("stream_64k"))
def test_stream_64kib_buffers(benchmark, env, impl):
    # one call sends then receives 16 messages: divide by extra_info["operations_per_call"]
    run_case(benchmark, env, "stream_64k", impl, rounds=300)


@pytest.mark.parametrize("impl", impl_params("roundtrip_4mib"))
def test_roundtrip_display_data_4mib(benchmark, env, impl):
    run_case(benchmark, env, "roundtrip_4mib", impl, rounds=30)


@pytest.mark.parametrize("impl", impl_params("recv_1gib"))
def test_recv_1gib_peak_rss(benchmark, impl):
    """Times the whole 1 GiB transfer (two processes); the peak RSS growth of the receiver,
    over the buffer size, is in extra_info["rss_growth_ratio"] (target: at most 1.05)."""
    benchmark.group = "recv_1gib"
    results = []

    def receive():
        results.append(jb.measure_big_recv(impl.name, jb.GiB))

    benchmark.pedantic(receive, rounds=1, iterations=1)
    benchmark.extra_info["implementation"] = impl.name
    benchmark.extra_info["rss_growth_ratio"] = results[-1]["ratio"]
    benchmark.extra_info["rss_growth_bytes"] = results[-1]["growth"]
