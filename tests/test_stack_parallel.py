"""An ipyparallel cluster under ``python -m jsession run``.

``python -m jsession run ipcluster start -n 2`` (a controller and two engines on this machine)
and a client, switched too, that runs tasks with numpy arrays as arguments and results, through
a load-balanced view and a direct view. The results must be right, and every process (the
controller, both engines, the client) must have built jsession Sessions and no other.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import time

import pytest

from switched import assert_all_jsession, run_command, switched_env, tool

# looked up, not imported: importing ipyparallel turns jupyter_client's header date parsing
# off in this whole process (it replaces jupyter_client.session.extract_dates)
pytestmark = [
    pytest.mark.skipif(
        not all(importlib.util.find_spec(m) for m in ("ipyparallel", "numpy")),
        reason="needs ipyparallel and numpy",
    ),
    pytest.mark.timeout(240),
]

CLUSTER_ID = "jsession-test"

CLIENT = """
import json, os, sys
import numpy as np
import ipyparallel as ipp
import jsession

rc = ipp.Client(profile_dir=sys.argv[1], cluster_id=sys.argv[2], timeout=60)
rc.wait_for_engines(2, timeout=120)
rng = np.random.default_rng(7)

# load-balanced tasks: small arrays in, arrays out
arrays = [rng.standard_normal((8, 8)) for _ in range(40)]
view = rc.load_balanced_view()
squares = view.map_sync(lambda a: a @ a.T, arrays)
assert all(np.array_equal(s, a @ a.T) for s, a in zip(squares, arrays, strict=True))

# 1 MiB arrays both ways (zero-copy buffers), on each engine
big = rng.standard_normal(2**17)  # 131072 float64 = 1 MiB
direct = rc[:]
doubled = direct.apply_sync(lambda x: x * 2, big)
assert len(doubled) == 2 and all(np.array_equal(d, big * 2) for d in doubled)
direct.push({"shared": big}, block=True)
assert all(np.array_equal(p, big) for p in direct.pull("shared", block=True))
norms = view.map_sync(np.linalg.norm, [big, big[::2].copy(), big[:1000].copy()])
assert np.allclose(norms, [np.linalg.norm(big), np.linalg.norm(big[::2]), np.linalg.norm(big[:1000])])

# ipyparallel keeps header dates as strings (it turns jupyter_client's extract_dates off): its
# timing metadata must still work
ar = view.apply_async(np.sum, big)
assert ar.get(timeout=60) == big.sum()
assert ar.wall_time >= 0 and ar.elapsed >= 0 and ar.metadata["completed"] is not None

def where():
    import os, jsession, jupyter_client.session as s
    return os.getpid(), jsession.installed(), s.Session.__module__

engines = direct.apply_sync(where)
print(json.dumps({
    "engines": engines,
    "client": [os.getpid(), jsession.installed(), type(rc.session).__module__],
    "tasks": len(arrays) + 2 + 3,
}))
rc.close()
"""


@pytest.fixture
def cluster(tmp_path):
    """``ipcluster start -n 2`` switched: (profile dir, env, audit file)."""
    env, audit = switched_env(tmp_path)
    profile = tmp_path / "profile"
    base = ["--profile-dir", str(profile), "--cluster-id", CLUSTER_ID]
    subprocess.run(
        [tool("ipython"), "profile", "create", "--parallel", "--profile-dir", str(profile)],
        env=env,
        check=True,
        capture_output=True,
    )
    log = open(tmp_path / "ipcluster.log", "w")  # noqa: SIM115 - open for the cluster's lifetime
    proc = subprocess.Popen(
        run_command(tool("ipcluster"), "start", "-n", "2", *base),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        yield profile, env, audit
    finally:
        subprocess.run([tool("ipcluster"), "stop", *base], env=env, capture_output=True, timeout=60)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_cluster_runs_numpy_tasks_on_jsession(cluster, tmp_path):
    profile, env, audit = cluster
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    started = time.monotonic()
    result = subprocess.run(
        run_command(tool("python"), str(script), str(profile), CLUSTER_ID),
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert result.returncode == 0, (
        result.stdout[-3000:] + result.stderr[-5000:] + ((tmp_path / "ipcluster.log").read_text()[-3000:])
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert time.monotonic() - started < 180

    # inside every process: the switch on, jupyter_client.session.Session jsession's
    assert report["client"] == [report["client"][0], True, "jsession.kernel.session"]
    assert len(report["engines"]) == 2
    assert all(
        installed and module == "jsession.kernel.session" for _, installed, module in report["engines"]
    )

    # and the audit: no Session but jsession's anywhere; the controller, both engines and
    # the client built jsession's
    records = assert_all_jsession(audit)
    pids = {r["pid"] for r in records}
    assert {pid for pid, _, _ in report["engines"]} <= pids
    assert report["client"][0] in pids
    assert any("controller" in " ".join(r["argv"]) for r in records), records
