"""Real kernels: ipykernel's (jupyter_client's client) and jsession's (jsession's client).

Each round is one burst (or one series of ``pass`` round trips) of the case, as
``python -m jsession.bench --section kernels`` measures it; ``extra_info["per_message"]``
is the time per message received (or per round trip). The floor (raw pyzmq) is a plain PUB
in the jsession kernel's process.
"""

import pytest

from jsession.bench import kernels as jk
from jsession.bench.runner import Progress

CASES = [case.name for case in jk.SECTION.cases]


@pytest.fixture(scope="module")
def kernels():
    started = jk.KERNELS.get(Progress())
    yield started
    jk.KERNELS.stop()


@pytest.mark.parametrize("impl", ["jsession", "jupyter_client", "pyzmq"])
@pytest.mark.parametrize("case", CASES)
def test_kernel_case(benchmark, kernels, case, impl):
    measure, floor = jk.MEASURES[case]
    if impl == "pyzmq":
        if floor is None:
            pytest.skip(f"{case} has no floor")
        fn = lambda: floor(kernels["jsession"])  # noqa: E731
    else:
        fn = lambda: measure(kernels[impl])  # noqa: E731
    benchmark.group = case
    benchmark.extra_info["implementation"] = impl
    per_message = []
    benchmark.pedantic(lambda: per_message.append(fn()), rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["per_message"] = min(per_message)
