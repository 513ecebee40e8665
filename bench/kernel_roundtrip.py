"""Comm round trip of a large binary buffer through a kernel: jsession's vs a stock ipykernel.

Starts both kernels (``python -m jsession.kernel`` and ``python -m ipykernel_launcher``)
from kernelspecs installed in a temporary prefix, registers in each a comm target that
echoes every message's buffer back on iopub, and times the round trip: a ``comm_msg``
carrying the buffer sent on shell, until the echo is received and deserialized on iopub.
The same client code (a stock jupyter_client BlockingKernelClient) drives both kernels,
once with a stock jupyter_client Session and once with a jsession one (``--client``).
The two kernels take turns, one trip each, so that other load on the machine hits both alike.
Prints the median, min and max of ``-n`` trips per case after ``--warmup`` untimed ones;
every echo is checked to be the buffer sent.

    python bench/kernel_roundtrip.py [-n 10] [--size-mib 16] [--client stock jsession]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # an in-place build of this checkout

import jupyter_client.session  # noqa: E402
from ipykernel.kernelspec import install as install_ipykernel  # noqa: E402
from jupyter_client import BlockingKernelClient, KernelManager  # noqa: E402
from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402

import jsession  # noqa: E402
import jsession.kernel  # noqa: E402

ECHO_TARGET = """
def _echo_target(comm, open_msg):
    @comm.on_msg
    def _echo(msg):
        comm.send({}, buffers=msg["buffers"])
get_ipython().kernel.comm_manager.register_target("bench-echo", _echo_target)
"""

SESSIONS = {"stock": jupyter_client.session.Session, "jsession": jsession.kernel.Session}


def start(kernel_name: str, kernel_dirs: list[str], env: dict[str, str]) -> KernelManager:
    km = KernelManager(
        kernel_name=kernel_name, kernel_spec_manager=KernelSpecManager(kernel_dirs=kernel_dirs)
    )
    km.start_kernel(env=env)
    ready = km.client()
    ready.start_channels()
    try:
        ready.wait_for_ready(timeout=60)
    finally:
        ready.stop_channels()
    return km


class EchoClient:
    """A stock BlockingKernelClient with the given Session class, and an open echo comm."""

    def __init__(self, km: KernelManager, session_class: type) -> None:
        self.kc = kc = BlockingKernelClient(session=session_class())
        kc.load_connection_file(km.connection_file)
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        kc.execute_interactive(ECHO_TARGET, timeout=30)
        self.comm_id = uuid.uuid4().hex
        kc.shell_channel.send(
            kc.session.msg("comm_open", {"comm_id": self.comm_id, "target_name": "bench-echo", "data": {}})
        )

    def round_trip(self, payload: bytes) -> float:
        """Seconds from sending the buffer to having its echo deserialized."""
        kc = self.kc
        start = time.perf_counter()
        kc.session.send(
            kc.shell_channel.socket, "comm_msg", {"comm_id": self.comm_id, "data": {}}, buffers=[payload]
        )
        while True:
            msg = kc.get_iopub_msg(timeout=60)
            if msg["msg_type"] == "comm_msg" and msg["content"]["comm_id"] == self.comm_id:
                break
        elapsed = time.perf_counter() - start
        if msg["buffers"][0] != payload:
            raise AssertionError("the echoed buffer differs from the one sent")
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=10, help="timed round trips per case (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed round trips first (default 2)")
    parser.add_argument("--size-mib", type=float, default=16, help="buffer size in MiB (default 16)")
    parser.add_argument("--client", nargs="+", choices=list(SESSIONS), default=list(SESSIONS))
    args = parser.parse_args()

    payload = os.urandom(int(args.size_mib * 2**20))
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp, "prefix")
        install_ipykernel(prefix=str(prefix), kernel_name="bench-stock")
        jsession.kernel.install(prefix=str(prefix), name="bench-jsession")
        kernel_dirs = [str(prefix / "share" / "jupyter" / "kernels")]
        env = dict(os.environ, IPYTHONDIR=str(Path(tmp, "ipython")), PYDEVD_DISABLE_FILE_VALIDATION="1")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)

        print(
            f"{args.size_mib:g} MiB comm round trip (client sends on shell, kernel echoes on iopub); "
            f"{args.n} trips per case after {args.warmup} warmup, kernels interleaved; "
            f"jsession core: {jsession.IMPLEMENTATION}"
        )
        managers = [start(name, kernel_dirs, env) for name in ("bench-stock", "bench-jsession")]
        times: dict[tuple[str, str], list[float]] = {}
        try:
            for client in args.client:
                # one client per kernel at a time: iopub goes to every subscriber, so a
                # second client would receive (and slow down) the other's echoes
                cases = {
                    (kernel, client): EchoClient(km, SESSIONS[client])
                    for kernel, km in zip(("stock", "jsession"), managers, strict=True)
                }
                for case in cases:
                    times[case] = []
                # the kernels take turns, one trip each, so that other load hits both alike
                for i in range(args.warmup + args.n):
                    for case, echo in cases.items():
                        elapsed = echo.round_trip(payload)
                        if i >= args.warmup:
                            times[case].append(elapsed)
                for echo in cases.values():
                    echo.kc.stop_channels()
        finally:
            for km in managers:
                km.shutdown_kernel(now=True)

    print(f"{'kernel':<10} {'client':<10} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'GB/s':>6}")
    for (kernel, client), trips in times.items():
        median = statistics.median(trips)
        rate = 2 * len(payload) / median / 1e9  # the buffer crosses twice
        print(
            f"{kernel:<10} {client:<10} {median * 1e3:>10.2f} {min(trips) * 1e3:>8.2f} "
            f"{max(trips) * 1e3:>8.2f} {rate:>6.2f}"
        )


if __name__ == "__main__":
    main()
