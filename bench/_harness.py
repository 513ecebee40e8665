"""Helpers of the benchmark files (a module of its own: tests/ has a conftest too)."""

from __future__ import annotations

import pytest

from jsession import bench as jb


def impl_params(case_name: str) -> list:
    """One parameter per implementation taking part in a case; unavailable ones skip."""
    params = []
    for name in jb.CASES[case_name].impls:
        impl = jb.IMPLS[name]
        marks = [] if impl.available() else [pytest.mark.skip(reason=f"{name} is not available")]
        params.append(pytest.param(impl, id=name, marks=marks))
    return params


def run_case(benchmark, env, case_name: str, impl: jb.Impl, rounds: int | None = None) -> None:
    """Time one case for one implementation, as ``python -m jsession.bench`` does."""
    impl.activate()
    op = jb.CASES[case_name].make(impl, env)
    benchmark.group = case_name
    benchmark.extra_info["implementation"] = impl.name
    benchmark.extra_info["operations_per_call"] = op.per_call
    try:
        if op.prepare is not None:
            # a fresh argument for every call, made outside the timing
            benchmark.pedantic(op.fn, setup=lambda: ((op.prepare(),), {}), rounds=rounds or 50, iterations=1)
        elif op.before is not None or rounds is not None:
            if op.before is not None:
                op.before()
            benchmark.pedantic(op.fn, rounds=rounds or 200, iterations=1, warmup_rounds=1)
        else:
            benchmark(op.fn)
    finally:
        if op.close is not None:
            op.close()
