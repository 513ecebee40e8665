"""Session.serialize: packing and signing an execute_reply into frames."""

import pytest
from _harness import impl_params, run_case


@pytest.mark.parametrize("impl", impl_params("serialize"))
def test_serialize(benchmark, env, impl):
    run_case(benchmark, env, "serialize", impl)
