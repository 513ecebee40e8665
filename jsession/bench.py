"""Benchmarks: jsession side by side with jupyter_client 8.10 and raw pyzmq, in one process.

Run ``python -m jsession.bench`` (``--help`` for the options). Every case runs every
implementation on the same data, in turns: for each repeat the implementations take one
timed batch each, in a rotating order, and the best batch of each is quoted. Only ratios
taken from one run mean anything on a shared machine.

The cases and implementations defined here are also what the pytest-benchmark suite in
``bench/`` times, so both report on exactly the same work.
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import zmq

import jsession
from jsession import _backend
from jsession.session import DELIM, Session

__all__ = ["CASES", "IMPLS", "Case", "Env", "Impl", "Op", "main", "measure_big_recv"]

KEY = b"jsession-bench-0123456789abcdef0123456789"
USERNAME = "bench"
MiB = 1 << 20
GiB = 1 << 30

#: jupyter_client's (and pyzmq's) size from which a frame is sent without a copy.
COPY_THRESHOLD = 1 << 16

EXECUTE_REQUEST = {
    "code": "import numpy as np\nprint(np.arange(10).sum())",
    "silent": False,
    "store_history": True,
    "user_expressions": {},
    "allow_stdin": True,
    "stop_on_error": True,
}
EXECUTE_REPLY = {
    "status": "ok",
    "execution_count": 12,
    "user_expressions": {},
    "payload": [],
}
REPLY_METADATA = {
    "started": datetime(2024, 5, 17, 9, 41, 7, 123456, tzinfo=timezone.utc),
    "dependencies_met": True,
    "engine": "0a5f0c8e-5b7c-4b1e-9d1a-3c2f6f1d2e4b",
    "status": "ok",
}
COMM_CONTENT = {"comm_id": "6f1d2e4b0a5f0c8e", "data": {"method": "update", "buffer_paths": [["x"]]}}


def display_data_content(size: int) -> dict[str, Any]:
    """A display_data content whose JSON is about ``size`` bytes: a base64 PNG, as plots send."""
    raw = random.Random(0).randbytes(size * 3 // 4)
    return {
        "data": {
            "image/png": base64.b64encode(raw).decode("ascii"),
            "text/plain": "<Figure size 640x480 with 1 Axes>",
        },
        "metadata": {"image/png": {"width": 640, "height": 480}},
        "transient": {},
    }


# -----------------------------------------------------------------------------
# implementations
# -----------------------------------------------------------------------------


def _jupyter_client_session() -> type | None:
    try:
        from jupyter_client.session import Session as JCSession
    except ImportError:
        return None
    return JCSession


def _compiled_available() -> bool:
    try:
        _backend.load("compiled")
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class Impl:
    """One implementation under test. ``kind``: "session" (a Session class) or "pyzmq"."""

    name: str
    label: str
    kind: str
    backend: str | None = None  # jsession's core to make active ("compiled" / "python")

    def available(self) -> bool:
        if self.name == "jupyter_client":
            return _jupyter_client_session() is not None
        if self.backend == "compiled":
            return _compiled_available()
        return True

    def activate(self) -> None:
        """Make this implementation's jsession core the active one (a no-op for others)."""
        if self.backend is not None and self.backend != _backend.IMPLEMENTATION:
            _backend.use(self.backend)

    def session(self, **kwargs: Any) -> Any:
        """A new Session of this implementation, keyed with the shared benchmark key."""
        self.activate()
        cls = _jupyter_client_session() if self.name == "jupyter_client" else Session
        if cls is None or self.kind != "session":
            raise RuntimeError(f"{self.name} has no Session")
        kwargs.setdefault("key", KEY)
        kwargs.setdefault("username", USERNAME)
        return cls(**kwargs)


IMPLS: dict[str, Impl] = {
    impl.name: impl
    for impl in (
        # "jsession" is the active core: compiled, unless not built (PyPy, a pure wheel) or
        # JSESSION_PURE_PYTHON=1 chose the fallback
        Impl("jsession", "jsession", "session", _backend.IMPLEMENTATION),
        Impl("jsession-python", "jsession (pure Python)", "session", "python"),
        Impl("jupyter_client", "jupyter_client 8.10", "session"),
        Impl("pyzmq", "pyzmq (raw)", "pyzmq"),
    )
}


# -----------------------------------------------------------------------------
# operations and cases
# -----------------------------------------------------------------------------


class Env:
    """What the cases share: one zmq Context and a temporary folder for ipc endpoints."""

    def __init__(self, quick: bool = False) -> None:
        self.quick = quick
        self.context = zmq.Context()
        self.tmpdir = tempfile.TemporaryDirectory(prefix="jsb-")
        self._count = 0
        self._sockets: list[zmq.Socket] = []
        # distinct signed messages for deserialize, made on first use
        self._pool: list[list[bytes]] | None = None
        self.pool_size = 4096 if quick else 32768

    def pair(self) -> tuple[zmq.Socket, zmq.Socket]:
        """A connected PAIR of sockets over ipc: (sender, receiver)."""
        self._count += 1
        addr = f"ipc://{self.tmpdir.name}/{self._count}"
        a, b = self.context.socket(zmq.PAIR), self.context.socket(zmq.PAIR)
        for s in (a, b):
            s.linger = 0
            s.sndhwm = s.rcvhwm = 0
        a.bind(addr)
        b.connect(addr)
        self._sockets += (a, b)
        return a, b

    def deserialize_pool(self) -> list[list[bytes]]:
        """``pool_size`` distinct signed execute_reply messages (frames after the delimiter)."""
        if self._pool is None:
            s = Session(key=KEY, username=USERNAME)
            parent = s.msg("execute_request", content=EXECUTE_REQUEST)
            pool = []
            for _ in range(self.pool_size):
                m = s.msg("execute_reply", content=EXECUTE_REPLY, parent=parent, metadata=REPLY_METADATA)
                frames = s.serialize(m)
                pool.append(frames[frames.index(DELIM) + 1 :])
            self._pool = pool
        return self._pool

    def close(self) -> None:
        for s in self._sockets:
            s.close(linger=0)
        self._sockets.clear()
        self.context.term()
        self.tmpdir.cleanup()


@dataclass
class Op:
    """One benchmarked operation.

    ``fn()`` does ``per_call`` operations. With ``prepare``, each call is ``fn(prepare())``
    and only ``fn`` is timed (the pytest suite uses ``benchmark.pedantic`` with a setup).
    ``before`` runs untimed before each batch (clearing replay histories, for instance).
    ``batch(n)`` may be given to time n operations some other way.
    """

    fn: Callable[..., Any]
    prepare: Callable[[], Any] | None = None
    before: Callable[[], Any] | None = None
    per_call: int = 1
    batch: Callable[[int], float] | None = None
    close: Callable[[], Any] | None = None
    max_calls: int = 1_000_000

    def time(self, calls: int) -> float:
        """Seconds taken by ``calls`` calls of fn (with gc off, as timeit does).

        ``wall`` is set to the whole batch's duration, untimed preparation included.
        """
        wall_start = time.perf_counter()
        try:
            if self.before is not None:
                self.before()
            if self.batch is not None:
                return self.batch(calls)
            return self._loop(calls)
        finally:
            self.wall = time.perf_counter() - wall_start

    wall: float = 0.0

    def _loop(self, calls: int) -> float:
        fn, prepare = self.fn, self.prepare
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            if prepare is None:
                start = time.perf_counter()
                for _ in range(calls):
                    fn()
                return time.perf_counter() - start
            total = 0.0
            clock = time.perf_counter
            for _ in range(calls):
                arg = prepare()
                start = clock()
                result = fn(arg)
                total += clock() - start
                del result, arg
            return total
        finally:
            if gc_was_on:
                gc.enable()


@dataclass
class Case:
    name: str
    label: str
    impls: tuple[str, ...]  # which implementations take part
    make: Callable[[Impl, Env], Op]
    target: tuple[str, float]  # (kind, bound): see TARGET_KINDS
    note: str = ""


# kind -> (what is compared, how it is shown)
TARGET_KINDS = {
    "speedup": "jupyter_client time / jsession time >= {:g}",
    "vs_pyzmq": "jsession time / raw pyzmq time <= {:g}",
    "abs_max": "jsession time < {:g} s",
    "rss_max": "peak RSS growth / buffer size <= {:g}",
}

SESSION_IMPLS = ("jsession", "jsession-python", "jupyter_client")
TRANSPORT_IMPLS = ("jsession", "jsession-python", "jupyter_client", "pyzmq")


def _reply_parts(impl: Impl) -> tuple[Any, dict, dict]:
    s = impl.session()
    request = s.msg("execute_request", content=EXECUTE_REQUEST)
    reply = s.msg("execute_reply", content=EXECUTE_REPLY, parent=request, metadata=REPLY_METADATA)
    return s, request, reply


def make_msg(impl: Impl, env: Env) -> Op:
    s, request, _ = _reply_parts(impl)
    msg = s.msg
    return Op(lambda: msg("execute_reply", EXECUTE_REPLY, request, None, REPLY_METADATA))


def make_serialize(impl: Impl, env: Env) -> Op:
    s, _, reply = _reply_parts(impl)
    serialize = s.serialize
    return Op(lambda: serialize(reply))


def make_sign(impl: Impl, env: Env) -> Op:
    s, _, reply = _reply_parts(impl)
    frames = s.serialize(reply)
    parts = frames[frames.index(DELIM) + 2 :]
    sign = s.sign
    return Op(lambda: sign(parts))


def make_deserialize(impl: Impl, env: Env) -> Op:
    s = impl.session()
    pool = env.deserialize_pool()
    deserialize = s.deserialize
    position = 0

    def fn() -> Any:
        # one distinct message a call; a replay is refused, so start over with a clean history
        nonlocal position
        if position == len(pool):
            s.digest_history.clear()
            position = 0
        position += 1
        return deserialize(pool[position - 1])

    def batch(calls: int) -> float:
        # the same work without fn's bookkeeping: timed slices of the pool
        nonlocal position
        total = 0.0
        gc.disable()
        try:
            while calls > 0:
                s.digest_history.clear()
                chunk = pool[: min(calls, len(pool))]
                start = time.perf_counter()
                for frames in chunk:
                    deserialize(frames)
                total += time.perf_counter() - start
                calls -= len(chunk)
        finally:
            gc.enable()
            s.digest_history.clear()
            position = 0
        return total

    return Op(fn, batch=batch, max_calls=len(pool))


def make_feed_identities(impl: Impl, env: Env) -> Op:
    s = impl.session()
    ident = b"i" * (64 * MiB)
    frames = s.serialize(s.msg("execute_request", content=EXECUTE_REQUEST))
    feed = s.feed_identities

    def prepare() -> list[zmq.Frame]:
        # fresh frames each time, as received: pyzmq caches Frame.bytes after a first copy
        return [zmq.Frame(ident, copy=False)] + [zmq.Frame(f) for f in frames]

    return Op(lambda msg_list: feed(msg_list, copy=False), prepare=prepare)


def _round_trip(
    impl: Impl,
    env: Env,
    msg_type: str,
    content: dict,
    buffers: list | None,
    copy: bool,
    per_call: int = 1,
) -> Op:
    """send + recv of ``per_call`` messages over an ipc PAIR (one thread, sends first)."""
    a, b = env.pair()
    if impl.kind == "pyzmq":
        builder = IMPLS["jsession"] if _compiled_available() else IMPLS["jsession-python"]
        s = builder.session()
        frames = s.serialize(s.msg(msg_type, content=content)) + list(buffers or ())
        # the same frames, and the same whole-message copy rule as jupyter_client's send
        send_copy = max(len(memoryview(f)) for f in frames) < COPY_THRESHOLD
        send_multipart, recv_multipart = a.send_multipart, b.recv_multipart

        def raw_fn() -> None:
            for _ in range(per_call):
                send_multipart(frames, 0, send_copy)
            for _ in range(per_call):
                recv_multipart(0, copy)

        return Op(raw_fn, per_call=per_call)

    sender, receiver = impl.session(), impl.session()
    send, recv = sender.send, receiver.recv

    def fn() -> None:
        for _ in range(per_call):
            send(a, msg_type, content=content, buffers=buffers)
        for _ in range(per_call):
            recv(b, mode=0, copy=copy)

    return Op(fn, before=lambda: receiver.digest_history.clear(), per_call=per_call)


def make_roundtrip_small(impl: Impl, env: Env) -> Op:
    return _round_trip(impl, env, "execute_request", EXECUTE_REQUEST, None, copy=True)


def make_stream_64k(impl: Impl, env: Env) -> Op:
    buffer = random.Random(1).randbytes(64 * 1024)
    return _round_trip(impl, env, "comm_msg", COMM_CONTENT, [buffer], copy=False, per_call=16)


def make_roundtrip_4mib(impl: Impl, env: Env) -> Op:
    content = display_data_content(4 * MiB)
    return _round_trip(impl, env, "display_data", content, None, copy=False)


CASES: dict[str, Case] = {
    case.name: case
    for case in (
        Case("msg", "msg (build an execute_reply)", SESSION_IMPLS, make_msg, ("speedup", 2.5)),
        Case("serialize", "serialize (execute_reply)", SESSION_IMPLS, make_serialize, ("speedup", 2.0)),
        Case("sign", "sign (4 frames, ~600 B)", SESSION_IMPLS, make_sign, ("speedup", 3.5)),
        Case(
            "deserialize",
            "deserialize (distinct messages)",
            SESSION_IMPLS,
            make_deserialize,
            ("speedup", 8.0),
        ),
        Case(
            "feed_identities",
            "feed_identities(copy=False), 64 MiB ident",
            SESSION_IMPLS,
            make_feed_identities,
            ("abs_max", 5e-6),
        ),
        Case(
            "roundtrip_small",
            "send+recv execute_request, ipc",
            TRANSPORT_IMPLS,
            make_roundtrip_small,
            ("vs_pyzmq", 1.3),
        ),
        Case(
            "stream_64k",
            "stream, 64 KiB buffer each, ipc",
            TRANSPORT_IMPLS,
            make_stream_64k,
            ("vs_pyzmq", 1.2),
            note="per message; 16 sent, then 16 received (copy=False)",
        ),
        Case(
            "roundtrip_4mib",
            "send+recv display_data, 4 MiB JSON, ipc",
            TRANSPORT_IMPLS,
            make_roundtrip_4mib,
            ("speedup", 1.2),
            note="recv(copy=False)",
        ),
        Case(
            "recv_1gib",
            "recv {size} buffer copy=False: RSS growth",
            TRANSPORT_IMPLS,
            lambda impl, env: None,  # type: ignore[arg-type,return-value]
            ("rss_max", 1.05),
            note="receiver and sender in processes of their own",
        ),
    )
}


# -----------------------------------------------------------------------------
# the 1 GiB receive, in processes of its own
# -----------------------------------------------------------------------------


def _peak_rss() -> int:
    """This process's peak resident set size in bytes (VmHWM, else ru_maxrss)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _reset_peak_rss() -> bool:
    """Start VmHWM afresh from the current RSS (Linux >= 4.0); False where impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _child_receive(impl_name: str, addr: str, size: int) -> None:
    impl = IMPLS[impl_name]
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PAIR)
    sock.bind(addr)
    session = impl.session() if impl.kind == "session" else None
    gc.collect()
    reset = _reset_peak_rss()
    before = _peak_rss()
    print("ready", flush=True)
    start = time.perf_counter()
    if session is None:
        frames = sock.recv_multipart(copy=False)
        received = len(frames[-1])
    else:
        _, msg = session.recv(sock, mode=0, copy=False)
        received = msg["buffers"][0].nbytes
    elapsed = time.perf_counter() - start
    after = _peak_rss()
    print(
        json.dumps(
            {
                "received": received,
                "growth": after - before,
                "peak_before": before,
                "peak_after": after,
                "peak_reset": reset,
                "seconds": elapsed,
            }
        ),
        flush=True,
    )
    sock.close(linger=0)
    ctx.term()


def _child_send(impl_name: str, addr: str, size: int) -> None:
    impl = IMPLS[impl_name]
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PAIR)
    sock.connect(addr)
    buffer = bytes(size)  # calloc'd: the sender's own memory is not what is measured
    if impl.kind == "session":
        impl.session().send(sock, "comm_msg", content=COMM_CONTENT, buffers=[buffer])
    else:
        s = IMPLS["jsession"].session() if _compiled_available() else Session(key=KEY)
        frames = s.serialize(s.msg("comm_msg", content=COMM_CONTENT))
        sock.send_multipart([*frames, buffer], copy=False)
    sock.close(linger=-1)  # wait until libzmq has sent it all
    ctx.term()


def _child_env() -> dict[str, str]:
    # the children import the same jsession as this process (in-place builds included)
    root = os.path.dirname(os.path.dirname(os.path.abspath(jsession.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def measure_big_recv(impl_name: str, size: int = GiB, timeout: float = 120) -> dict[str, Any]:
    """Receive one ``size``-byte buffer with copy=False in a process of its own, from a
    sender in another; return the receiver's peak RSS growth (bytes, and over ``size``)."""
    with tempfile.TemporaryDirectory(prefix="jsb-") as tmp:
        addr = f"ipc://{tmp}/big"
        cmd = [sys.executable, "-m", "jsession.bench", "--child"]
        args = [impl_name, addr, str(size)]
        env = _child_env()
        receiver = subprocess.Popen(
            [*cmd, "receive", *args], stdout=subprocess.PIPE, text=True, env=env, cwd=tmp
        )
        try:
            assert receiver.stdout is not None
            if receiver.stdout.readline().strip() != "ready":
                raise RuntimeError(f"the {impl_name} receiver did not start")
            start = time.perf_counter()
            sender = subprocess.run([*cmd, "send", *args], env=env, cwd=tmp, timeout=timeout)
            if sender.returncode:
                raise RuntimeError(f"the {impl_name} sender failed ({sender.returncode})")
            out, _ = receiver.communicate(timeout=timeout)
            wall = time.perf_counter() - start
        finally:
            if receiver.poll() is None:
                receiver.kill()
                receiver.wait()
        if receiver.returncode:
            raise RuntimeError(f"the {impl_name} receiver failed ({receiver.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    if result["received"] != size:
        raise RuntimeError(f"{impl_name} received {result['received']} bytes, not {size}")
    result["size"] = size
    result["ratio"] = result["growth"] / size
    result["wall_seconds"] = wall
    return result


# -----------------------------------------------------------------------------
# the runner
# -----------------------------------------------------------------------------


@dataclass
class Settings:
    repeats: int = 9
    batch_seconds: float = 0.12
    big_size: int = GiB
    quick: bool = False


# --quick receives 256 MiB instead of 1 GiB: moving 1 GiB through ipc takes seconds
QUICK = Settings(repeats=3, batch_seconds=0.02, big_size=256 * MiB, quick=True)


@dataclass
class CaseResult:
    case: Case
    best: dict[str, float] = field(default_factory=dict)  # seconds per op, or RSS ratio
    runs: dict[str, list[float]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    size: int = 0  # the buffer size, for the RSS case

    @property
    def label(self) -> str:
        size = f"{self.size / GiB:g} GiB" if self.size >= GiB else f"{self.size // MiB} MiB"
        return self.case.label.format(size=size)

    def ratios(self) -> dict[str, float | None]:
        best = self.best
        js, jc, zmq_ = best.get("jsession"), best.get("jupyter_client"), best.get("pyzmq")
        if self.case.target[0] == "rss_max":
            return {"vs_jupyter_client": None, "vs_pyzmq": None}
        return {
            "vs_jupyter_client": jc / js if js and jc else None,
            "vs_pyzmq": js / zmq_ if js and zmq_ else None,
        }

    def figure(self) -> float | None:
        """The figure the target bounds."""
        kind = self.case.target[0]
        if kind == "speedup":
            return self.ratios()["vs_jupyter_client"]
        if kind == "vs_pyzmq":
            return self.ratios()["vs_pyzmq"]
        return self.best.get("jsession")

    def met(self) -> bool | None:
        kind, bound = self.case.target
        value = self.figure()
        if value is None:
            return None
        if kind == "speedup":
            return value >= bound
        if kind == "abs_max":
            return value < bound
        return value <= bound


class Progress:
    def __init__(self, stream: Any = sys.stderr, quiet: bool = False) -> None:
        self.stream = stream
        self.quiet = quiet
        self.live = hasattr(stream, "isatty") and stream.isatty()

    def update(self, text: str) -> None:
        # a log (not a terminal) gets only the finished cases
        if self.live and not self.quiet:
            self.stream.write("\r\x1b[2K" + text)
            self.stream.flush()

    def done(self, text: str) -> None:
        if self.quiet:
            return
        self.stream.write(("\r\x1b[2K" if self.live else "") + text + "\n")
        self.stream.flush()


def _calibrate(op: Op, seconds: float) -> int:
    """Calls per batch so that a batch's timed part lasts about ``seconds`` (and the whole
    batch, untimed preparation included, at most about three times that)."""
    calls = 1
    while True:
        elapsed = op.time(calls)
        spent = max(elapsed, op.wall / 3, 1e-9)
        if spent >= seconds / 4 or calls >= op.max_calls:
            break
        calls = min(op.max_calls, calls * max(2, min(50, int(seconds / 4 / spent))))
    return max(1, min(op.max_calls, round(calls * seconds / spent)))


def run_timed_case(
    case: Case, impls: list[Impl], env: Env, settings: Settings, progress: Progress
) -> CaseResult:
    result = CaseResult(case)
    ops: dict[str, Op] = {}
    try:
        for impl in impls:
            progress.update(f"{case.name}: setting up {impl.name}")
            ops[impl.name] = case.make(impl, env)
        for name, op in ops.items():
            progress.update(f"{case.name}: calibrating {name}")
            IMPLS[name].activate()
            op.time(1)  # warm up
            result.calls[name] = _calibrate(op, settings.batch_seconds)
            result.runs[name] = []
        names = list(ops)
        for repeat in range(settings.repeats):
            shift = repeat % len(names)
            for name in names[shift:] + names[:shift]:  # a rotating order: no one always goes first
                IMPLS[name].activate()
                op, calls = ops[name], result.calls[name]
                result.runs[name].append(op.time(calls) / (calls * op.per_call))
            best = "  ".join(f"{n} {_fmt_time(min(result.runs[n]))}" for n in names)
            progress.update(f"{case.name} [{repeat + 1}/{settings.repeats}]  {best}")
    finally:
        for op in ops.values():
            if op.close is not None:
                op.close()
    result.best = {name: min(runs) for name, runs in result.runs.items()}
    return result


def run_big_case(case: Case, impls: list[Impl], settings: Settings, progress: Progress) -> CaseResult:
    result = CaseResult(case, size=settings.big_size)
    for impl in impls:
        progress.update(f"{case.name}: {impl.name} receiving {settings.big_size / GiB:g} GiB")
        info = measure_big_recv(impl.name, settings.big_size)
        result.best[impl.name] = info["ratio"]
        result.runs[impl.name] = [info["ratio"]]
        result.extra[impl.name] = info
    return result


def run(
    settings: Settings,
    impl_names: list[str],
    case_names: list[str] | None = None,
    progress: Progress | None = None,
) -> list[CaseResult]:
    progress = progress or Progress()
    impls = [IMPLS[n] for n in impl_names if IMPLS[n].available()]
    before = _backend.IMPLEMENTATION
    env = Env(quick=settings.quick)
    results = []
    try:
        for index, case in enumerate(CASES[n] for n in CASES if not case_names or n in case_names):
            taking_part = [i for i in impls if i.name in case.impls]
            start = time.perf_counter()
            if case.target[0] == "rss_max":
                result = run_big_case(case, taking_part, settings, progress)
            else:
                result = run_timed_case(case, taking_part, env, settings, progress)
            results.append(result)
            shown = "  ".join(f"{n} {_fmt_value(result, v)}" for n, v in result.best.items())
            took = time.perf_counter() - start
            progress.done(f"[{index + 1}/{len(case_names or CASES)}] {case.name}: {shown}  ({took:.1f} s)")
    finally:
        env.close()
        _backend.use(before)
    return results


# -----------------------------------------------------------------------------
# reporting
# -----------------------------------------------------------------------------


def _fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _fmt_value(result: CaseResult, value: float | None) -> str:
    if value is None:
        return "-"
    if result.case.target[0] == "rss_max":
        return f"{value:.3f}x"
    return _fmt_time(value)


def _fmt_target(case: Case) -> str:
    kind, bound = case.target
    return {
        "speedup": f">= {bound:g}x faster than jc",
        "vs_pyzmq": f"<= {bound:g}x pyzmq",
        "abs_max": f"< {_fmt_time(bound)}",
        "rss_max": f"<= {bound:g}x buffer size",
    }[kind]


def table(results: list[CaseResult], impl_names: list[str]) -> str:
    """The results as a Markdown table: time per operation and the ratios."""
    shown = [n for n in impl_names if any(n in r.best for r in results)]
    head = ["case", *(IMPLS[n].label for n in shown), "jc / jsession", "jsession / pyzmq", "target", "met"]
    rows = []
    for r in results:
        ratios = r.ratios()
        vs_jc, vs_zmq = ratios["vs_jupyter_client"], ratios["vs_pyzmq"]
        met = r.met()
        rows.append(
            [
                r.label,
                *(_fmt_value(r, r.best.get(n)) for n in shown),
                "-" if vs_jc is None else f"{vs_jc:.2f}x",
                "-" if vs_zmq is None else f"{vs_zmq:.2f}x",
                _fmt_target(r.case),
                "?" if met is None else "yes" if met else "**no**",
            ]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), sep, *(line(r) for r in rows)])


def machine_info() -> dict[str, Any]:
    import ssl

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "jsession": jsession.__version__,
        "jsession_core": _backend.IMPLEMENTATION,
        "pyzmq": zmq.pyzmq_version(),
        "libzmq": zmq.zmq_version(),
        "openssl (python)": ssl.OPENSSL_VERSION,
    }
    for name in ("jupyter_client", "orjson"):
        try:
            from importlib.metadata import version

            info[name] = version(name)
        except Exception:
            info[name] = None
    return info


def to_json(results: list[CaseResult], settings: Settings, seconds: float) -> dict[str, Any]:
    cases = {}
    for r in results:
        kind, bound = r.case.target
        cases[r.case.name] = {
            "label": r.label,
            "unit": "ratio" if kind == "rss_max" else "seconds per operation",
            "best": r.best,
            "runs": r.runs,
            "calls_per_batch": r.calls,
            "ratios": r.ratios(),
            "target": {"kind": kind, "bound": bound, "text": TARGET_KINDS[kind].format(bound)},
            "figure": r.figure(),
            "met": r.met(),
            "note": r.case.note,
            **({"details": r.extra} if r.extra else {}),
        }
    return {
        "machine": machine_info(),
        "settings": {
            "repeats": settings.repeats,
            "batch_seconds": settings.batch_seconds,
            "big_size": settings.big_size,
            "quick": settings.quick,
        },
        "wall_seconds": seconds,
        "cases": cases,
    }


def plot(results: list[CaseResult], path: str) -> None:
    """A bar chart of the ratios: speedup over jupyter_client, and time over raw pyzmq."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    speed: list[tuple[str, float, tuple[str, float]]] = []
    floor: list[tuple[str, float, dict[str, float], tuple[str, float]]] = []
    for r in results:
        vs_jc, vs_zmq = r.ratios()["vs_jupyter_client"], r.ratios()["vs_pyzmq"]
        if vs_jc is not None:
            speed.append((r.label, vs_jc, r.case.target))
        if vs_zmq is not None:
            floor.append((r.label, vs_zmq, r.best, r.case.target))

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    labels = [s[0] for s in speed]
    values = [s[1] for s in speed]
    colors = ["tab:green" if (t[0] != "speedup" or v >= t[1]) else "tab:red" for _, v, t in speed]
    ax1.barh(labels, values, color=colors)
    for y, (_, v, t) in enumerate(speed):
        ax1.text(v, y, f" {v:.3g}x", va="center", fontsize=8)
        if t[0] == "speedup":
            ax1.plot([t[1], t[1]], [y - 0.4, y + 0.4], color="black", lw=1.5)
    ax1.set_xscale("log")
    ax1.set_xlabel("jupyter_client time / jsession time (log; | = target)")
    ax1.set_title("Speedup over jupyter_client 8.10")
    ax1.invert_yaxis()

    labels2 = [f[0] for f in floor]
    js = [f[1] for f in floor]
    jc = [f[2]["jupyter_client"] / f[2]["pyzmq"] if "jupyter_client" in f[2] else 0 for f in floor]
    ys = range(len(floor))
    ax2.barh([y - 0.2 for y in ys], js, height=0.4, label="jsession", color="tab:blue")
    ax2.barh([y + 0.2 for y in ys], jc, height=0.4, label="jupyter_client", color="tab:gray")
    for y, f in enumerate(floor):
        if f[3][0] == "vs_pyzmq":
            ax2.plot([f[3][1], f[3][1]], [y - 0.45, y + 0.05], color="black", lw=1.5)
    for y, (v, w) in enumerate(zip(js, jc, strict=True)):
        ax2.text(v, y - 0.2, f" {v:.2f}x", va="center", fontsize=8)
        if w:
            ax2.text(w, y + 0.2, f" {w:.2f}x", va="center", fontsize=8)
    ax2.axvline(1.0, color="black", lw=0.8, ls=":")
    ax2.set_xscale("log")
    ax2.set_yticks(list(ys), labels2)
    ax2.set_xlabel("time / raw pyzmq time (log; | = target)")
    ax2.set_title("Over the raw pyzmq floor")
    ax2.invert_yaxis()
    ax2.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jsession.bench",
        description="Time jsession, jupyter_client 8.10 and raw pyzmq on the same cases, in turns.",
    )
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repeats (under 20 s)")
    parser.add_argument("--json", metavar="FILE", help="write the figures to FILE")
    parser.add_argument(
        "--plot", metavar="FILE.png", help="draw a bar chart of the ratios (needs matplotlib)"
    )
    parser.add_argument("--repeats", type=int, help="timed batches per implementation and case")
    parser.add_argument("--batch", type=float, metavar="SECONDS", help="length of one timed batch")
    parser.add_argument("--big-size", type=int, metavar="BYTES", help="buffer size of the RSS case (1 GiB)")
    parser.add_argument(
        "--case", action="append", choices=list(CASES), help="run only this case (repeatable)"
    )
    parser.add_argument("--python-twin", action="store_true", help="also time jsession's pure-Python core")
    parser.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        role, impl_name, addr, size = args.child
        (_child_receive if role == "receive" else _child_send)(impl_name, addr, int(size))
        return 0

    settings = QUICK if args.quick else Settings()
    if args.repeats:
        settings.repeats = args.repeats
    if args.batch:
        settings.batch_seconds = args.batch
    if args.big_size:
        settings.big_size = args.big_size
    impl_names = ["jsession", "jupyter_client", "pyzmq"]
    if args.python_twin:
        impl_names.insert(1, "jsession-python")
    if not IMPLS["jupyter_client"].available():
        print("jupyter_client is not installed: timing jsession and pyzmq only", file=sys.stderr)

    start = time.perf_counter()
    results = run(settings, impl_names, args.case, Progress(quiet=args.no_progress))
    seconds = time.perf_counter() - start

    info = machine_info()
    print(
        f"jsession {info['jsession']} ({info['jsession_core']} core), jupyter_client "
        f"{info['jupyter_client']}, pyzmq {info['pyzmq']} (libzmq {info['libzmq']}), "
        f"Python {info['python']}, {info['cpus']} CPUs; best of {settings.repeats} "
        f"interleaved repeats, {seconds:.0f} s"
    )
    print(table(results, impl_names))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(to_json(results, settings, seconds), f, indent=2)
    if args.plot:
        plot(results, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
