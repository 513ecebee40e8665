"""The kernels section: real kernels, stock and jsession, and what a client receives from each.

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

import atexit
import importlib.util
import os
import statistics
import tempfile
import time
import typing as t
from collections.abc import Callable
from pathlib import Path

from jsession.bench.case import Case, Section, Target
from jsession.bench.env import Env
from jsession.bench.impls import Impl
from jsession.bench.payloads import MiB
from jsession.bench.runner import CaseResult, Progress, Settings, fmt_time

__all__ = ["SECTION", "Kernel", "Kernels"]

for _needed in ("ipykernel", "jupyter_client"):
    if importlib.util.find_spec(_needed) is None:  # the section is listed as unavailable
        raise ImportError(f"the kernels section needs {_needed} (the 'kernel' extra)")

SMALL_BURST = 900
BIG_BURST = 64  # 1 MiB buffers per burst
DISPLAY_BURST = 100  # 256 KiB displays per burst
EXECUTE_TRIPS = 60

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
    # as the kernel sends them: the buffer without a copy, the small frames copied
    bufs = [zmq.Frame(memoryview(_bench_mib)[:nbytes], copy=False)] if nbytes else []
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
        pub.send_multipart(frames)
"""


class LostMessages(RuntimeError):
    """A burst cut by the kernel's PUB socket: its high-water mark (1000 messages per
    subscriber, libzmq's default, for both kernels) was reached while its I/O thread was
    waiting for a CPU, and it dropped what followed, as PUB sockets do."""


# a burst cut at the high-water mark is timed again, up to this many times a measurement
BURST_ATTEMPTS = 3


class Kernel:
    """A started kernel and one client on it (the client class given its Session)."""

    def __init__(
        self, name: str, spec: str, kernel_dirs: list[str], env: dict[str, str], session: t.Any
    ) -> None:
        import jupyter_client
        import zmq
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
        # no receive high-water mark: libzmq's thread drains the kernel's queue whatever
        # this process's pace, so a burst is never cut by the kernel's PUB dropping
        # messages (for both clients alike)
        context = zmq.Context()
        context.setsockopt(zmq.RCVHWM, 0)
        self.kc = client(session=session, context=context)
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
            elif mt == "status" and msg["content"]["execution_state"] == "idle":
                while kc.get_shell_msg(timeout=120)["parent_header"].get("msg_id") != msg_id:
                    pass
                raise LostMessages(f"{n - got} of {n} messages lost at the kernel's high-water mark")
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


class Kernels:
    """Both kernels, started on first use and stopped together (after the section's last
    case, or at exit)."""

    def __init__(self) -> None:
        self.kernels: dict[str, Kernel] = {}
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def get(self, progress: Progress) -> dict[str, Kernel]:
        if self.kernels:
            return self.kernels
        import jupyter_client.session
        from ipykernel.kernelspec import install as install_ipykernel

        import jsession.kernel

        self._tmp = tempfile.TemporaryDirectory(prefix="jsb-kernels-")
        tmp = self._tmp.name
        prefix = Path(tmp, "prefix")
        install_ipykernel(prefix=str(prefix), kernel_name="bench-stock")
        jsession.kernel.install(prefix=str(prefix), name="bench-jsession")
        kernel_dirs = [str(prefix / "share" / "jupyter" / "kernels")]
        env = dict(os.environ, IPYTHONDIR=str(Path(tmp, "ipython")), PYDEVD_DISABLE_FILE_VALIDATION="1")
        root = str(Path(jsession.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        atexit.register(self.stop)
        try:
            for impl, spec, session in (
                ("jupyter_client", "bench-stock", jupyter_client.session.Session()),
                ("jsession", "bench-jsession", jsession.kernel.Session()),
            ):
                # progress.done: a kernel takes seconds to start, shown even in a log
                progress.done(f"kernels: starting the {KERNEL_NAMES[impl]} ...")
                self.kernels[impl] = Kernel(impl, spec, kernel_dirs, env, session)
        except BaseException:
            self.stop()
            raise
        return self.kernels

    def stop(self) -> None:
        for k in self.kernels.values():
            try:
                k.stop()
            except Exception:  # a kernel already gone
                pass
        self.kernels.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


KERNELS = Kernels()

#: what each implementation name means in this section
KERNEL_NAMES = {
    "jupyter_client": "stock kernel (python -m ipykernel_launcher, jupyter_client's client)",
    "jsession": "jsession kernel (python -m jsession.kernel, jsession's client)",
    "pyzmq": "floor: a plain PUB in the kernel's process, same frames, jsession's client",
}


def _burst(code: str, n: int, kind: str, nbytes: int = 0) -> Callable[[Kernel], float]:
    def measure(k: Kernel) -> float:
        return k.burst(code.format(n=n), n, kind, nbytes) / n

    return measure


def _execute(k: Kernel) -> float:
    return k.execute_latency(EXECUTE_TRIPS)


# case name -> (seconds per message or round trip, per kernel; the floor's, or None)
MEASURES: dict[str, tuple[Callable[[Kernel], float], Callable[[Kernel], float] | None]] = {
    "kernel_comm_small": (
        _burst("_bench_small({n})", SMALL_BURST, "comm_msg"),
        lambda k: k.floor(SMALL_BURST, 0) / SMALL_BURST,
    ),
    "kernel_comm_1mib": (
        _burst("_bench_big({n})", BIG_BURST, "comm_msg", MiB),
        lambda k: k.floor(BIG_BURST, MiB) / BIG_BURST,
    ),
    "kernel_display_256k": (_burst("_bench_display({n})", DISPLAY_BURST, "display_data"), None),
    "kernel_execute": (_execute, None),
}


def _again_if_cut(measure: Callable[[Kernel], float], kernel: Kernel, progress: Progress) -> float:
    """measure(kernel), repeated when a burst was cut (said in the progress log); the last
    attempt's LostMessages goes to the caller."""
    for _ in range(BURST_ATTEMPTS - 1):
        try:
            return measure(kernel)
        except LostMessages as e:
            progress.done(f"kernels: {kernel.name}: {e}; the burst is timed again")
    return measure(kernel)


def run_kernel_case(
    case: Case, impls: list[Impl], env: Env, settings: Settings, progress: Progress
) -> CaseResult:
    """A Case runner: the kernels take turns, one burst (or series of round trips) each,
    ``settings.repeats`` times; the floor runs in the jsession kernel's process."""
    result = CaseResult(case)
    try:
        kernels = KERNELS.get(progress)
        measure, floor = MEASURES[case.name]
        names = [i.name for i in impls if i.name in kernels or (i.name == "pyzmq" and floor)]
        for name in names:
            result.runs[name] = []
        for repeat in range(max(2, min(settings.repeats, 5))):
            shift = repeat % len(names)
            for name in names[shift:] + names[:shift]:
                if name == "pyzmq":
                    assert floor is not None
                    result.runs[name].append(floor(kernels["jsession"]))
                else:
                    result.runs[name].append(_again_if_cut(measure, kernels[name], progress))
            best = "  ".join(f"{n} {fmt_time(min(result.runs[n]))}" for n in names)
            progress.update(f"{case.name} [{repeat + 1}]  {best}")
    finally:
        if case is SECTION.cases[-1]:
            KERNELS.stop()  # else at exit
    result.best = {name: min(runs) for name, runs in result.runs.items()}
    return result


IMPLS = ("jsession", "jupyter_client", "pyzmq")

SECTION = Section(
    "kernels",
    "real kernels: jsession's (python -m jsession.kernel, jsession's client) against "
    "ipykernel's (jupyter_client's client); the floor is a plain PUB in the kernel's process",
    (
        Case(
            "kernel_comm_small",
            'kernel: comm.send({{"i": i}}), bursts of 900, per message received',
            IMPLS,
            None,
            (Target("speedup", 3.0),),
            floor=("pyzmq",),
            run=run_kernel_case,
        ),
        Case(
            "kernel_comm_1mib",
            "kernel: comm.send with a 1 MiB buffer, per message received",
            IMPLS,
            None,
            (Target("speedup", 1.8),),
            floor=("pyzmq",),
            run=run_kernel_case,
        ),
        Case(
            "kernel_display_256k",
            "kernel: publish_display_data, 256 KiB text, per message received",
            IMPLS[:2],
            None,
            (Target("speedup", 1.5),),
            run=run_kernel_case,
        ),
        Case(
            "kernel_execute",
            "kernel: execute_request `pass`, request to reply",
            IMPLS[:2],
            None,
            (Target("speedup", 1.25),),
            run=run_kernel_case,
        ),
    ),
    notes=[f"{name}: {text}" for name, text in KERNEL_NAMES.items()],
)
