"""Session.deserialize of distinct signed messages (a replay would be refused)."""

import pytest
from _harness import impl_params, run_case


@pytest.mark.parametrize("impl", impl_params("deserialize"))
def test_deserialize(benchmark, env, impl):
    run_case(benchmark, env, "deserialize", impl)
