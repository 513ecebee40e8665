"""The jsession kernel's IOPub path (``jsession.kernel.iopub``), against real kernel processes.

What a client sees: stream output before the display (and the comm message) sent after
it; every message of 8 threads printing and sending at once, each thread's in order;
output of ``multiprocessing``/forked children and of subprocesses writing to the
captured file descriptors; a 1 GiB buffer published without a copy; a burst of 10,000
messages followed at once by shutdown, delivered whole; interrupts that never cut a
message in two; restart.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import typing as t
from pathlib import Path

import pytest
import zmq

pytest.importorskip("ipykernel")
pytest.importorskip("jupyter_client")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from test_kernel import TIMEOUT, _env_with_jsession, assert_ok, shell_reply, stdout_of  # noqa: E402

from jsession.kernel import KernelManager, Session  # noqa: E402
from jsession.kernel.kernelspec import install  # noqa: E402

pytestmark = pytest.mark.timeout(120)

# a comm opened by the kernel (no frontend target: the client just sees its messages)
OPEN_COMM = """
import comm as _comm
c = _comm.create_comm(target_name="jsession-test")
print(c.comm_id, end="")
"""


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory) -> dict[str, str]:
    env = _env_with_jsession()
    env["IPYTHONDIR"] = str(tmp_path_factory.mktemp("ipython"))  # keep ~/.ipython untouched
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # debugpy's frozen-modules note
    # ipykernel captures the file descriptors unless it believes it runs under pytest
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


@pytest.fixture(scope="module")
def spec_dirs(tmp_path_factory) -> list[str]:
    prefix = tmp_path_factory.mktemp("prefix")
    return [str(Path(install(prefix=str(prefix), name="jsession-iopub")).parent)]


def start(spec_dirs: list[str], env: dict[str, str], *args: str) -> tuple[KernelManager, t.Any]:
    km = KernelManager(
        kernel_name="jsession-iopub",
        kernel_spec_manager=KernelSpecManager(kernel_dirs=spec_dirs),
        session=Session(),
    )
    km.start_kernel(env=env, extra_arguments=list(args))
    kc = km.client()  # jsession's client: its Session, its channels
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=30)
    except Exception:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        raise
    return km, kc


@pytest.fixture(scope="module")
def kernel(spec_dirs, kernel_env):
    km, kc = start(spec_dirs, kernel_env)
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


@pytest.fixture
def kc(kernel):
    return kernel[1]


@pytest.fixture
def reader(kernel):
    """A Reader on the module's kernel, subscribed (it has seen a message) when given."""
    km, kc = kernel
    r = Reader(km.connection_file)
    r.start()
    try:
        yield subscribed(r, kc)
    finally:
        r.stop()


def subscribed(r: Reader, kc) -> Reader:
    """r, once it receives the kernel's messages (a SUB misses those sent before)."""
    deadline = time.monotonic() + 30
    while not r.messages:
        assert time.monotonic() < deadline, "the reader never got a message"
        run(kc, "pass")
        time.sleep(0.05)
    return r


def run(kc, code: str, timeout: float = TIMEOUT) -> list[dict]:
    """Execute code; its iopub messages up to idle (the reply checked ok)."""
    reply, iopub = _execute(kc, code, timeout)
    assert_ok(reply)
    return iopub


def _execute(kc, code: str, timeout: float) -> tuple[dict, list[dict]]:
    msg_id = kc.execute(code)
    deadline = time.monotonic() + timeout
    got = []
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        got.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    return shell_reply(kc, msg_id, timeout), got


def kinds(iopub: list[dict]) -> list[str]:
    return [m["msg_type"] for m in iopub]


class Reader(threading.Thread):
    """A SUB socket on the kernel's iopub, read in a thread into ``messages``; counts
    the frames that do not make a valid message (a message cut in two would)."""

    def __init__(self, connection_file: str) -> None:
        super().__init__(daemon=True)
        info = json.loads(Path(connection_file).read_text())
        self.session = Session(key=info["key"].encode(), signature_scheme=info["signature_scheme"])
        self.socket = zmq.Context.instance().socket(zmq.SUB)
        self.socket.linger = 0
        # no high-water mark here: libzmq's IO thread drains the kernel's queue whatever
        # this thread's pace, so the kernel's PUB (1000 messages) never drops one
        self.socket.rcvhwm = 0
        self.socket.subscribe(b"")
        self.socket.connect(f"tcp://{info['ip']}:{info['iopub_port']}")
        self.messages: list[dict] = []
        self.invalid = 0
        self.errors: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            if not self.socket.poll(50):
                continue
            frames = self.socket.recv_multipart()
            try:
                _, frames = self.session.feed_identities(frames)
                self.messages.append(self.session.deserialize(frames))
            except ValueError as e:
                self.invalid += 1
                self.errors.append(f"{e} ({len(frames)} frames)")

    def wait_for(self, predicate, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.messages):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.messages)} messages received")
            time.sleep(0.02)

    def until_idle(self, msg_id: str, timeout: float = 60) -> list[dict]:
        """The messages answering msg_id, once its idle has arrived."""

        def idle(msgs: list[dict]) -> bool:
            return any(
                m["parent_header"].get("msg_id") == msg_id and m["content"].get("execution_state") == "idle"
                for m in msgs
            )

        self.wait_for(idle, timeout)
        return [m for m in self.messages if m["parent_header"].get("msg_id") == msg_id]

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)
        self.socket.close()


def comm_data(messages: list[dict], comm_id: str) -> list[dict]:
    return [
        m["content"]["data"]
        for m in messages
        if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id
    ]


# -----------------------------------------------------------------------------
# order
# -----------------------------------------------------------------------------


def test_the_kernel_publishes_on_jsession_s_path(kc):
    code = (
        "import sys; from jsession.kernel import iopub\n"
        "k = get_ipython().kernel\n"
        "print(type(k.iopub_thread) is iopub.IOPubThread, type(sys.stdout) is iopub.OutStream,"
        " type(sys.stderr) is iopub.OutStream, k.iopub_socket.io_thread is k.iopub_thread)"
    )
    assert stdout_of(run(kc, code)) == "True True True True\n"


def test_print_then_display_then_print(kc):
    iopub = run(kc, "from IPython.display import display\nprint('before')\ndisplay('shown')\nprint('after')")
    body = [m for m in iopub if m["msg_type"] in ("stream", "display_data")]
    assert [(m["msg_type"], m["content"].get("text")) for m in body] == [
        ("stream", "before\n"),
        ("display_data", None),
        ("stream", "after\n"),
    ]
    assert body[1]["content"]["data"]["text/plain"] == "'shown'"
    # busy ... idle brackets it all
    assert kinds(iopub)[0] == "status" and iopub[0]["content"]["execution_state"] == "busy"
    assert kinds(iopub)[-1] == "status"


def test_print_then_comm_message(kc):
    comm_id = stdout_of(run(kc, OPEN_COMM))
    iopub = run(kc, "for i in range(3):\n    print('p', i)\n    c.send({'i': i})")
    seen = [
        ("stream", m["content"]["text"]) if m["msg_type"] == "stream" else ("comm", m["content"]["data"]["i"])
        for m in iopub
        if m["msg_type"] == "stream" or (m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id)
    ]
    assert seen == [(kind, x) for i in range(3) for kind, x in (("stream", f"p {i}\n"), ("comm", i))]


def test_stderr_and_stdout_each_whole_and_before_the_reply(kc):
    iopub = run(kc, "import sys\nfor i in range(500):\n    print(i)\n    print(-i, file=sys.stderr)")
    text = {"stdout": "", "stderr": ""}
    for m in iopub:
        if m["msg_type"] == "stream":
            text[m["content"]["name"]] += m["content"]["text"]
    assert text["stdout"] == "".join(f"{i}\n" for i in range(500))
    assert text["stderr"] == "".join(f"{-i}\n" for i in range(500))


def test_eight_threads_print_and_send_at_once(kernel, reader):
    km, kc = kernel
    comm_id = stdout_of(run(kc, OPEN_COMM))
    # at most 8 * N * 2 messages in flight: under the PUB socket's 1000, so none can be
    # dropped however slowly this process reads
    N = 60
    code = f"""
import sys, threading
def work(t):
    for i in range({N}):
        sys.stdout.write(f"t{{t}} {{i}}\\n")  # one write: print() writes the newline apart
        c.send({{"t": t, "i": i}})
threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
for th in threads: th.start()
for th in threads: th.join()
"""
    msg_id = kc.execute(code)
    assert_ok(shell_reply(kc, msg_id, timeout=60))
    iopub = reader.until_idle(msg_id)
    assert reader.invalid == 0
    printed: dict[int, list[int]] = {t: [] for t in range(8)}
    sent: dict[int, list[int]] = {t: [] for t in range(8)}
    for m in iopub:
        if m["msg_type"] == "stream":
            for line in m["content"]["text"].splitlines():
                t, i = line[1:].split()
                printed[int(t)].append(int(i))
        elif m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id:
            data = m["content"]["data"]
            # what the thread printed before sending has arrived before its message
            assert printed[data["t"]][-1:] == [data["i"]]
            sent[data["t"]].append(data["i"])
    for t in range(8):
        assert sent[t] == list(range(N)), t
        assert printed[t] == list(range(N)), t


# -----------------------------------------------------------------------------
# children and file descriptors
# -----------------------------------------------------------------------------


def more_output(kc, out: str, *expected: str) -> str:
    """out, plus the stream text that follows until every expected piece is in it: output
    of children (piped to the kernel) and of file descriptors (read by a thread) may be
    published after the request's idle, with ipykernel as here."""
    deadline = time.monotonic() + TIMEOUT
    while not all(e in out for e in expected) and time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        if msg["msg_type"] == "stream":
            out += msg["content"]["text"]
    return out


def test_multiprocessing_child_output(kc):
    code = """
import multiprocessing, os
def child(n):
    print("child says", n)
    os.write(1, b"child fd\\n")
ctx = multiprocessing.get_context("fork")
p = ctx.Process(target=child, args=(7,))
p.start(); p.join()
print("exit", p.exitcode)
"""
    out = more_output(kc, stdout_of(run(kc, code)), "child says", "child fd")
    assert "child says 7" in out  # text and newline may arrive apart, as above
    assert "child fd\n" in out
    assert "exit 0\n" in out


def test_forked_child_and_subprocess_output(kc):
    code = """
import os, subprocess, sys
pid = os.fork()
if pid == 0:
    print("forked child")
    sys.stdout.flush()
    os._exit(0)
os.waitpid(pid, 0)
subprocess.run(["echo", "from a subprocess"], check=True)
"""
    out = more_output(kc, stdout_of(run(kc, code)), "forked child", "from a subprocess")
    # a child pipes each flush over a connection of its own (ipykernel's mechanism): its
    # print's text and newline may arrive apart, around the subprocess's line
    assert "forked child" in out
    assert "from a subprocess\n" in out


# -----------------------------------------------------------------------------
# stdin and large buffers
# -----------------------------------------------------------------------------


def test_input_request_after_output(kc):
    msg_id = kc.execute("print('asking'); name = input('who? '); print('hi', name)", allow_stdin=True)
    request = kc.get_stdin_msg(timeout=TIMEOUT)
    assert request["content"]["prompt"] == "who? "
    kc.input("there")
    assert_ok(shell_reply(kc, msg_id))
    got = []
    while not got or got[-1]["content"].get("execution_state") != "idle":
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") == msg_id:
            got.append(msg)
    assert stdout_of(got) == "asking\nhi there\n"


def test_one_gib_buffer_sent_without_a_copy(kc):
    comm_id = stdout_of(run(kc, OPEN_COMM))
    code = """
def _hwm():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:"))
big = b"\\x01" * (1 << 30)
before = _hwm()
c.send({"n": len(big)}, buffers=[big])
del big
import gc; gc.collect()
print(before, _hwm(), end="")
"""
    msg_id = kc.execute(code)
    buf = None
    out = ""
    deadline = time.monotonic() + 60
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "comm_msg" and msg["content"]["comm_id"] == comm_id:
            buf = msg["buffers"][0]
        elif msg["msg_type"] == "stream":
            out += msg["content"]["text"]
        elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    assert_ok(shell_reply(kc, msg_id))
    assert buf is not None and len(buf) == 1 << 30
    assert bytes(memoryview(buf)[:16]) == b"\x01" * 16 and bytes(memoryview(buf)[-16:]) == b"\x01" * 16
    del buf, msg
    before, after = map(int, out.split())
    # a copy would have raised the kernel's peak by another GiB
    assert after - before < 256 * 2**20, (before, after)


def test_large_buffers_are_released_without_pyzmq_s_gc_thread(kc):
    comm_id = stdout_of(run(kc, OPEN_COMM))
    code = """
import sys, time
from zmq.utils.garbage import gc as _zgc
from jsession import _backend
buf = b"\\x02" * (1 << 20)
stored, before = [], sys.getrefcount(buf)
_store = _zgc.store
_zgc.store = lambda *a: stored.append(1) or _store(*a)  # pyzmq's zero-copy Frames register here
try:
    for i in range(20):
        c.send({"i": i}, buffers=[buf])
finally:
    _zgc.store = _store
deadline = time.monotonic() + 30
while _backend.active.zerocopy.held() and time.monotonic() < deadline:
    time.sleep(0.05)  # released by the IOPub thread's poll, no send needed
held = _backend.active.zerocopy.held()
print(_backend.active.name, len(stored), held, sys.getrefcount(buf) - before, end="")
"""
    iopub = run(kc, code)
    impl, frames, held, refcount = stdout_of(iopub).split()
    got = [m for m in iopub if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id]
    assert len(got) == 20 and all(bytes(m["buffers"][0]) == b"\x02" * (1 << 20) for m in got)
    if impl != "compiled":
        pytest.skip("the pure-Python core sends pyzmq's Frames")
    # every buffer back with its owner, none through pyzmq's Frames and garbage collector
    assert (int(frames), int(held), int(refcount)) == (0, 0, 0)


# -----------------------------------------------------------------------------
# shutdown, interrupt, restart
# -----------------------------------------------------------------------------


def test_shutdown_right_after_a_burst_delivers_everything(spec_dirs, kernel_env):
    # no high-water mark on either side: a reader starved of CPU would otherwise lose
    # messages to the PUB socket's drop policy, which is not what is tested here
    km, kc = start(spec_dirs, kernel_env, "--KernelApp.iopub_sndhwm=0")
    reader = Reader(km.connection_file)
    reader.start()
    try:
        subscribed(reader, kc)
        comm_id = stdout_of(run(kc, OPEN_COMM))
        kc.execute("for i in range(10000):\n    c.send({'i': i})\nprint('sent')")
        km.request_shutdown()  # on control, while the burst runs
        km.finish_shutdown(waittime=30)
        assert not km.is_alive()
        reader.wait_for(lambda msgs: len(comm_data(msgs, comm_id)) >= 10000)
        assert [d["i"] for d in comm_data(reader.messages, comm_id)] == list(range(10000))
        assert reader.invalid == 0
    finally:
        reader.stop()
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        km.cleanup_resources()


def test_interrupt_while_sending_cuts_no_message(spec_dirs, kernel_env):
    km, kc = start(spec_dirs, kernel_env)
    reader = Reader(km.connection_file)
    reader.start()
    try:
        subscribed(reader, kc)
        comm_id = stdout_of(run(kc, OPEN_COMM))
        # plain tracebacks: the verbose ones highlight the source of every frame (seconds)
        run(kc, "%xmode Plain")
        for _ in range(3):
            msg_id = kc.execute("i = 0\nwhile True:\n    c.send({'i': i})\n    i += 1", stop_on_error=False)
            reader.wait_for(lambda msgs: len(comm_data(msgs, comm_id)) > 2000)
            km.interrupt_kernel()
            reply = shell_reply(kc, msg_id, timeout=30)
            assert (reply["content"]["status"], reply["content"]["ename"]) == ("error", "KeyboardInterrupt")
            reader.until_idle(msg_id)
            del reader.messages[:]
        # kc's own iopub queue overflowed during the bursts (PUB drops at its high-water
        # mark): the reader, which has none, sees everything
        msg_id = kc.execute("c.send({'after': True}); print('alive')")
        assert_ok(shell_reply(kc, msg_id, timeout=30))
        iopub = reader.until_idle(msg_id)
        assert stdout_of(iopub) == "alive\n"
        assert comm_data(iopub, comm_id) == [{"after": True}]
        assert reader.invalid == 0, reader.errors  # every message whole, through all interrupts
    finally:
        reader.stop()
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_restart_keeps_publishing(spec_dirs, kernel_env):
    km, kc = start(spec_dirs, kernel_env)
    try:
        run(kc, "x = 1")
        km.restart_kernel(now=False)
        kc.wait_for_ready(timeout=30)
        iopub = run(kc, "print('x' in dir())\nfrom IPython.display import display; display(1)")
        assert stdout_of(iopub) == "False\n"
        assert "display_data" in kinds(iopub)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
