"""Real kernels, stock and jsession: what a client receives from each, and how fast.

Starts two kernels: ipykernel as installed (``python -m ipykernel_launcher``) driven by a
jupyter_client ``BlockingKernelClient`` on jupyter_client's Session, and jsession's kernel
(``python -m jsession.kernel``) driven by the same client class on a jsession Session.
The kernels take turns, one burst each, and each case keeps the best of its rounds:

- ``comm-small``: ``comm.send({"i": i})`` in bursts of 900 (msgs/s received);
- ``comm-1mib``: ``comm.send`` with a 1 MiB buffer each (GB/s received);
- ``display-256k``: ``publish_display_data`` of 256 KiB text each (msgs/s received);
- ``execute``: an ``execute_request`` of ``pass``, request sent to reply received.

A burst is timed from the kernel's clock reading just before its first send (carried in a
first message; both processes read the same monotonic clock) to the client's receipt of
the last message, each received message deserialized by the client's Session.

The floor: a plain pyzmq PUB socket in the jsession kernel's process sends frames
serialized once (the same comm messages) to a SUB socket in the client, which
deserializes each with its jsession Session: what the machine allows without a kernel.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["KERNEL_CASES", "KernelResult", "run_kernels"]

MiB = 1 << 20
SMALL_BURST = 900
BIG_BURST = 64  # 1 MiB buffers per burst
DISPLAY_BURST = 100  # 256 KiB displays per burst
EXECUTE_TRIPS = 60

# name -> (label, unit, target over stock)
KERNEL_CASES: dict[str, tuple[str, str, float]] = {
    "comm-small": ('comm.send({"i": i}), bursts of 900', "msgs/s", 3.0),
    "comm-1mib": ("comm.send with a 1 MiB buffer", "GB/s", 1.8),
    "display-256k": ("publish_display_data, 256 KiB text", "msgs/s", 1.5),
    "execute": ("execute_request `pass`, request to reply", "ms", 1.25),
}

SETUP = r"""
import os as _os, time as _time
import comm as _comm
from IPython.display import publish_display_data as _publish_display_data
_bench_comm = _comm.create_comm(target_name="jsession-bench")
_bench_mib = _os.urandom(1 << 20)
_bench_text = "x" * (1 << 18)

def _bench_small(n):
    send = _bench_comm.send
    send({"t0": _time.perf_counter()})
    for i in range(n):
        send({"i": i})

def _bench_big(n):
    send, buf = _bench_comm.send, _bench_mib
    send({"t0": _time.perf_counter()})
    for i in range(n):
        send({"i": i}, buffers=[buf])

def _bench_display(n):
    text = _bench_text
    _bench_comm.send({"t0": _time.perf_counter()})
    for i in range(n):
        _publish_display_data({"text/plain": text})

def _bench_floor_open():
    import zmq
    global _bench_pub
    _bench_pub = zmq.Context.instance().socket(zmq.XPUB)
    _bench_pub.linger = 1000
    return _bench_pub.bind_to_random_port("tcp://127.0.0.1")

def _bench_floor(n, nbytes):
    import zmq
    k = get_ipython().kernel
    session, pub = k.session, _bench_pub
    if pub.poll(10000):
        pub.recv()  # the client's subscription
    topic = ("comm-" + _bench_comm.comm_id).encode()
    bufs = [_bench_mib[:nbytes]] if nbytes else []
    parent = k.get_parent()
    messages = [  # distinct messages (a client refuses a replayed signature), built first
        session.serialize(
            session.msg("comm_msg", {"data": {"i": i}, "comm_id": _bench_comm.comm_id}, parent=parent),
            ident=topic,
        )
        + bufs
        for i in range(n)
    ]
    t0 = _time.perf_counter()
    first = session.serialize(
        session.msg("comm_msg", {"data": {"t0": t0}, "comm_id": _bench_comm.comm_id}), ident=topic
    )
    pub.send_multipart(first)
    for frames in messages:
        pub.send_multipart(frames, copy=not nbytes)
"""


@dataclass
class KernelResult:
    """One case: the best value of each kernel (and of the floor, where measured)."""

    case: str
    values: dict[str, float] = field(default_factory=dict)  # "stock", "jsession", "floor"
    rounds: dict[str, list[float]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return KERNEL_CASES[self.case][0]

    @property
    def unit(self) -> str:
        return KERNEL_CASES[self.case][1]

    @property
    def target(self) -> float:
        return KERNEL_CASES[self.case][2]

    @property
    def speedup(self) -> float:
        """jsession's kernel over stock, higher is better (latency inverted)."""
        stock, ours = self.values["stock"], self.values["jsession"]
        return stock / ours if self.unit == "ms" else ours / stock

    @property
    def of_floor(self) -> float | None:
        floor = self.values.get("floor")
        return None if floor is None else self.values["jsession"] / floor


def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, file=sys.stderr, flush=True)


class Kernel:
    """A started kernel and one client on it (the client class given its Session)."""

    def __init__(
        self, name: str, spec: str, kernel_dirs: list[str], env: dict[str, str], session: t.Any
    ) -> None:
        import jupyter_client
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpecManager

        import jsession.kernel

        self.name = name
        specs = KernelSpecManager(kernel_dirs=kernel_dirs)
        self.km = KernelManager(kernel_name=spec, kernel_spec_manager=specs)
        self.km.start_kernel(env=env)
        # a client not made by the manager judges liveness by heartbeats, and takes a
        # kernel still starting on a busy machine for a dead one: wait with the manager's
        ready = self.km.client()
        ready.start_channels()
        try:
            ready.wait_for_ready(timeout=120)
        finally:
            ready.stop_channels()
        # each kernel's own client: jupyter_client's, or jsession's (its Session, its channels)
        client = jupyter_client.BlockingKernelClient
        if name == "jsession":
            client = jsession.kernel.BlockingKernelClient
        self.kc = client(session=session)
        self.kc.load_connection_file(self.km.connection_file)
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.run(SETUP)
        self.comm_id = self.eval("_bench_comm.comm_id").strip("'")

    def run(self, code: str, timeout: float = 120) -> str:
        """Execute code, wait for its reply and idle; return its stdout."""
        kc = self.kc
        msg_id = kc.execute(code)
        out = []
        while True:
            msg = kc.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                raise RuntimeError("\n".join(msg["content"]["traceback"]))
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        reply = kc.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=timeout)
        return "".join(out)

    def eval(self, expr: str) -> str:
        return self.run(f"print(repr({expr}), end='')")

    def burst(self, code: str, n: int, kind: str, nbytes: int = 0) -> float:
        """Run code that sends a t0 comm message then n messages of kind; return the
        seconds from the kernel's t0 to the client's receipt of the last one."""
        kc = self.kc
        msg_id = kc.execute(code)
        t0 = None
        got = 0
        while got < n:
            msg = kc.get_iopub_msg(timeout=120)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            mt = msg["msg_type"]
            if mt == "comm_msg" and msg["content"]["comm_id"] == self.comm_id:
                data = msg["content"]["data"]
                if "t0" in data:
                    t0 = data["t0"]
                    continue
                if nbytes and len(msg["buffers"][0]) != nbytes:
                    raise AssertionError("a buffer of the wrong size")
                got += 1
            elif mt == kind:
                got += 1
            elif mt == "error":
                raise RuntimeError("\n".join(msg["content"]["traceback"]))
        end = time.perf_counter()
        if t0 is None:
            raise AssertionError("no t0 message before the burst")
        self._drain(msg_id)
        return end - t0

    def _drain(self, msg_id: str) -> None:
        kc = self.kc
        while True:
            msg = kc.get_iopub_msg(timeout=120)
            if (
                msg["parent_header"].get("msg_id") == msg_id
                and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"
            ):
                break
        while kc.get_shell_msg(timeout=120)["parent_header"].get("msg_id") != msg_id:
            pass

    def execute_latency(self, trips: int) -> float:
        """Median seconds from sending ``pass`` to receiving its reply."""
        kc = self.kc
        times = []
        for _ in range(trips):
            start = time.perf_counter()
            msg_id = kc.execute("pass", store_history=False)
            while kc.get_shell_msg(timeout=60)["parent_header"].get("msg_id") != msg_id:
                pass
            times.append(time.perf_counter() - start)
            while True:  # its idle, so the next request starts from a quiet kernel
                msg = kc.get_iopub_msg(timeout=60)
                parent = msg["parent_header"].get("msg_id")
                if parent == msg_id and msg["content"].get("execution_state") == "idle":
                    break
        return statistics.median(times)

    def floor(self, n: int, nbytes: int) -> float:
        """Seconds for n frames sent by a plain PUB in this kernel's process, received
        and deserialized by a SUB here."""
        import zmq

        from jsession.kernel.client import recv_frames

        port = int(self.eval("_bench_floor_open()"))
        session = self.kc.session
        sub: zmq.Socket[t.Any] = zmq.Context.instance().socket(zmq.SUB)
        sub.linger = 0
        sub.subscribe(b"")
        sub.connect(f"tcp://127.0.0.1:{port}")
        try:
            msg_id = self.kc.execute(f"_bench_floor({n}, {nbytes})")
            t0 = None
            for i in range(n + 1):
                # as jsession's client channel receives
                if not sub.poll(60000):
                    raise TimeoutError("the floor's publisher sent nothing")
                _, frames = session.feed_identities(recv_frames(sub), copy=False)
                msg = session.deserialize(frames, copy=False)
                if i == 0:
                    t0 = msg["content"]["data"]["t0"]
            end = time.perf_counter()
            self._drain(msg_id)
        finally:
            sub.close()
        self.run("_bench_pub.close()")
        assert t0 is not None
        return end - t0

    def stop(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=True)


def _measure(k: Kernel, case: str) -> float:
    if case == "comm-small":
        return SMALL_BURST / k.burst(f"_bench_small({SMALL_BURST})", SMALL_BURST, "comm_msg")
    if case == "comm-1mib":
        return BIG_BURST * MiB / 1e9 / k.burst(f"_bench_big({BIG_BURST})", BIG_BURST, "comm_msg", MiB)
    if case == "display-256k":
        return DISPLAY_BURST / k.burst(f"_bench_display({DISPLAY_BURST})", DISPLAY_BURST, "display_data")
    if case == "execute":
        return k.execute_latency(EXECUTE_TRIPS) * 1e3
    raise ValueError(case)


def _measure_floor(k: Kernel, case: str) -> float | None:
    if case == "comm-small":
        return SMALL_BURST / k.floor(SMALL_BURST, 0)
    if case == "comm-1mib":
        return BIG_BURST * MiB / 1e9 / k.floor(BIG_BURST, MiB)
    return None


def run_kernels(
    cases: t.Iterable[str] = tuple(KERNEL_CASES), rounds: int = 3, progress: bool = True
) -> list[KernelResult]:
    """Start both kernels, measure every case ``rounds`` times (the kernels taking turns),
    and return the best of each."""
    import jupyter_client.session
    from ipykernel.kernelspec import install as install_ipykernel

    import jsession.kernel

    cases = list(cases)
    results = {case: KernelResult(case) for case in cases}
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp, "prefix")
        install_ipykernel(prefix=str(prefix), kernel_name="bench-stock")
        jsession.kernel.install(prefix=str(prefix), name="bench-jsession")
        kernel_dirs = [str(prefix / "share" / "jupyter" / "kernels")]
        env = dict(os.environ, IPYTHONDIR=str(Path(tmp, "ipython")), PYDEVD_DISABLE_FILE_VALIDATION="1")
        root = str(Path(jsession.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        kernels: list[Kernel] = []
        try:
            for name, spec, session in (
                ("stock", "bench-stock", jupyter_client.session.Session()),
                ("jsession", "bench-jsession", jsession.kernel.Session()),
            ):
                _say(progress, f"kernels: starting the {name} kernel ...")
                kernels.append(Kernel(name, spec, kernel_dirs, env, session))
            for r in range(rounds):
                for case in cases:
                    _say(progress, f"kernels: round {r + 1}/{rounds}: {case}")
                    for k in kernels if r % 2 == 0 else kernels[::-1]:
                        results[case].rounds.setdefault(k.name, []).append(_measure(k, case))
                    floor = _measure_floor(kernels[1], case)
                    if floor is not None:
                        results[case].rounds.setdefault("floor", []).append(floor)
        finally:
            for k in kernels:
                k.stop()
    for result in results.values():
        pick = min if result.unit == "ms" else max
        result.values = {name: pick(values) for name, values in result.rounds.items()}
    return list(results.values())


def fmt(value: float | None, unit: str) -> str:
    """A figure with its unit."""
    if value is None:
        return "-"
    if unit == "GB/s":
        return f"{value:.2f} GB/s"
    if unit == "ms":
        return f"{value:.2f} ms"
    return f"{value:,.0f} msgs/s"


def kernel_table(results: list[KernelResult]) -> str:
    """A markdown table: stock, jsession, speedup, target, share of the floor."""
    lines = [
        "| kernel case | stock | jsession | speedup | target | floor | of floor |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        of_floor = r.of_floor
        lines.append(
            f"| {r.label} | {fmt(r.values['stock'], r.unit)} | {fmt(r.values['jsession'], r.unit)} "
            f"| {r.speedup:.2f}x | >= {r.target:g}x | {fmt(r.values.get('floor'), r.unit)} | "
            f"{'-' if of_floor is None else f'{of_floor:.0%}'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("cases", nargs="*", default=list(KERNEL_CASES))
    args = parser.parse_args()
    started = time.perf_counter()
    out = run_kernels(args.cases, args.rounds)
    print(kernel_table(out))
    print(f"({time.perf_counter() - started:.0f} s, load average {os.getloadavg()[0]:.2f})")
