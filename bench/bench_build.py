"""Session.msg: building an execute_reply (header, parent, metadata, content)."""

import pytest
from _harness import impl_params, run_case


@pytest.mark.parametrize("impl", impl_params("msg"))
def test_msg(benchmark, env, impl):
    run_case(benchmark, env, "msg", impl)
