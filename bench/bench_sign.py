"""Session.sign: the HMAC-SHA256 of the four packed frames of an execute_reply (~600 bytes)."""

import pytest
from _harness import impl_params, run_case


@pytest.mark.parametrize("impl", impl_params("sign"))
def test_sign(benchmark, env, impl):
    run_case(benchmark, env, "sign", impl)
