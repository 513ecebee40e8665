"""The 1 GiB receive: a receiving process of its own, fed by a sending process, and the peak
growth of the receiver's resident memory (what ``recv(copy=False)`` must not double)."""

from __future__ import annotations

import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import TYPE_CHECKING, Any

import zmq

import jsession
from jsession.bench.impls import IMPLS, serializing_session
from jsession.bench.payloads import COMM_CONTENT, GiB
from jsession.bench.runner import CaseResult, Progress, Settings

if TYPE_CHECKING:
    from jsession.bench.case import Case
    from jsession.bench.env import Env
    from jsession.bench.impls import Impl


def peak_rss() -> int:
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


def reset_peak_rss() -> bool:
    """Start VmHWM afresh from the current RSS (Linux >= 4.0); False where impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def child_receive(impl_name: str, addr: str, size: int) -> None:
    impl = IMPLS[impl_name]
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PAIR)
    sock.bind(addr)
    session = impl.session() if impl.kind == "session" else None
    gc.collect()
    reset = reset_peak_rss()
    before = peak_rss()
    print("ready", flush=True)
    start = time.perf_counter()
    if session is None:
        frames = sock.recv_multipart(copy=False)
        received = len(frames[-1])
    else:
        _, msg = session.recv(sock, mode=0, copy=False)
        received = msg["buffers"][0].nbytes
    elapsed = time.perf_counter() - start
    after = peak_rss()
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


def child_send(impl_name: str, addr: str, size: int) -> None:
    impl = IMPLS[impl_name]
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PAIR)
    sock.connect(addr)
    buffer = bytes(size)  # calloc'd: the sender's own memory is not what is measured
    if impl.kind == "session":
        impl.session().send(sock, "comm_msg", content=COMM_CONTENT, buffers=[buffer])
    else:
        s = serializing_session()
        frames = s.serialize(s.msg("comm_msg", content=COMM_CONTENT))
        sock.send_multipart([*frames, buffer], copy=False)
    sock.close(linger=-1)  # wait until libzmq has sent it all
    ctx.term()


def child_env() -> dict[str, str]:
    """The environment of a child process: it imports the same jsession as this process
    (in-place builds included)."""
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
        env = child_env()
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


def run_big_case(
    case: Case, impls: list[Impl], env: Env, settings: Settings, progress: Progress
) -> CaseResult:
    """A Case runner: each implementation's peak RSS growth over ``settings.big_size``."""
    result = CaseResult(case, size=settings.big_size)
    for impl in impls:
        progress.update(f"{case.name}: {impl.name} receiving {settings.big_size / GiB:g} GiB")
        info = measure_big_recv(impl.name, settings.big_size)
        result.best[impl.name] = info["ratio"]
        result.runs[impl.name] = [info["ratio"]]
        result.extra[impl.name] = info
    return result
