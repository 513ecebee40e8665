"""jsession in Jupyter kernels and clients, with real kernel processes.

- ``jsession.kernel.Session``: accepted as a jupyter_client Session, behaving as jsession's.
- ``python -m jsession.kernel install``: the kernelspec.
- an ipykernel on jsession (``python -m jsession.kernel``), driven by a stock
  jupyter_client ``BlockingKernelClient`` and by clients on jsession Sessions;
- a stock ipykernel driven by a jsession-only client (raw pyzmq sockets).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import queue
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import zmq

pytest.importorskip("ipykernel")
jupyter_client = pytest.importorskip("jupyter_client")

import jupyter_client.session as reference  # noqa: E402
from jupyter_client import BlockingKernelClient, KernelManager  # noqa: E402
from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from traitlets import TraitError  # noqa: E402
from traitlets.config import Config  # noqa: E402

import jsession  # noqa: E402
import jsession.kernel  # noqa: E402
from jsession import session as core  # noqa: E402
from jsession.kernel import Session  # noqa: E402
from jsession.kernel.kernelspec import install  # noqa: E402

pytestmark = pytest.mark.timeout(60)

TIMEOUT = 15  # seconds to wait for any one kernel reply
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colours in tracebacks
PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")

# A comm target that echoes each message's first buffer back on iopub, with its digest.
ECHO_TARGET = """
import hashlib
def _jsession_echo(comm, open_msg):
    @comm.on_msg
    def _echo(msg):
        buf = msg["buffers"][0]
        digest = hashlib.sha256(buf).hexdigest()
        comm.send({"nbytes": buf.nbytes, "sha256": digest}, buffers=[buf])
get_ipython().kernel.comm_manager.register_target("jsession-echo", _jsession_echo)
"""

# What the kernel says about its session: which class, and whether every part shares it.
SESSION_REPORT = """
import json, sys, jsession, jupyter_client.session
from ipykernel.kernelapp import IPKernelApp
from ipykernel.kernelbase import Kernel
_k = get_ipython().kernel
_s = _k.session
print(json.dumps({
    "module": type(_s).__module__,
    "is_jsession": isinstance(_s, jsession.session.Session),
    "is_reference": isinstance(_s, jupyter_client.session.Session),
    "implementation": jsession.IMPLEMENTATION,
    "app": IPKernelApp.instance().session is _s,
    "iopub_thread": _k.iopub_thread.session is _s,
    "stdout": sys.stdout.session is _s,
    "stderr": sys.stderr.session is _s,
    "displayhook": get_ipython().displayhook.session is _s,
    "display_pub": get_ipython().display_pub.session is _s,
    "comms": Kernel.instance() is _k,  # comms send with Kernel.instance().session
    "signature_scheme": _s.signature_scheme,
}))
"""


# -----------------------------------------------------------------------------
# the Session class
# -----------------------------------------------------------------------------


def test_is_a_jupyter_client_session_running_jsession():
    s = Session(key=b"k")
    assert isinstance(s, reference.Session)
    assert isinstance(s, core.Session)
    assert type(s).__module__.startswith("jsession")
    assert Session.__mro__[1] is core.Session  # jsession's definitions come first
    assert Session.class_traits() == core.Session.class_traits()  # the same trait objects
    assert type(s.clone()) is Session


def test_no_name_falls_through_to_the_reference():
    # every attribute jupyter_client's Session defines resolves to jsession's (or this
    # class's) definition: no reference method, default or observer can run
    for name in vars(reference.Session):
        if name in ("__dict__", "__weakref__"):
            continue
        owner = next(c for c in Session.__mro__ if name in vars(c))
        assert owner is not reference.Session, name


def test_observers_are_jsession_s():
    s = Session()
    for name, by_type in s._trait_notifiers.items():
        for handlers in by_type.values():
            for handler in handlers:
                func = getattr(handler, "func", handler)
                assert not func.__module__.startswith("jupyter_client"), (name, func)


@pytest.mark.parametrize("cls", [Session, reference.Session])
def test_init_warns_once_without_a_key(cls, caplog):
    with caplog.at_level(logging.WARNING):
        cls(key=b"")
    warnings = [r for r in caplog.records if "Message signing is disabled" in r.getMessage()]
    assert len(warnings) == 1


def test_accepted_where_a_jupyter_client_session_is_required():
    from ipykernel.displayhook import ZMQShellDisplayHook
    from ipykernel.kernelbase import Kernel
    from ipykernel.zmqshell import ZMQDisplayPublisher
    from jupyter_client.connect import ConnectionFileMixin

    s = Session()
    for owner in (Kernel, ZMQShellDisplayHook, ZMQDisplayPublisher):  # Instance(Session)
        assert owner.class_traits()["session"].validate(None, s) is s
    # Instance("jupyter_client.session.Session")
    assert ConnectionFileMixin(session=s).session is s
    assert KernelManager(session=s).session is s
    assert BlockingKernelClient(session=s).session is s
    with pytest.raises(TraitError):
        KernelManager(session=core.Session())  # the core class alone is not accepted


def test_configured_by_the_session_section():
    cfg = Config({"Session": {"signature_scheme": "hmac-sha512", "username": "cfg", "key": b"x"}})
    s = Session(config=cfg)
    assert (s.signature_scheme, s.username, s.key) == ("hmac-sha512", "cfg", b"x")
    assert len(s.sign([b"a", b"b", b"c", b"d"])) == 128


@pytest.mark.parametrize("packer", ["json", "orjson", "pickle"])
@pytest.mark.parametrize("scheme", ["hmac-sha256", "hmac-sha512", "hmac-md5"])
def test_serializes_byte_identically(impl, packer, scheme):
    settings = dict(key=b"secret", signature_scheme=scheme, packer=packer, session="abc", username="u")
    ours, ref = Session(**settings), reference.Session(**settings)
    msg = ref.msg(
        "execute_request",
        content={"code": "print('é')", "silent": False, "n": [1, 2.5, None]},
        parent=ref.msg("kernel_info_request"),
        metadata={"tag": "x"},
    )
    for ident in (None, b"id", [b"a", b"b"]):
        assert ours.serialize(msg, ident) == ref.serialize(msg, ident)
    frames = ref.serialize(msg)[2:]
    assert ours.sign(frames) == ref.sign(frames)


def test_round_trips_with_the_stock_session(impl):
    ours = Session(key=b"shared", signature_scheme="hmac-sha384")
    ref = reference.Session(key=b"shared", signature_scheme="hmac-sha384")
    ctx = zmq.Context()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    try:
        a.bind("inproc://kernel-session-roundtrip")
        b.connect("inproc://kernel-session-roundtrip")
        big = os.urandom(2**20)
        for sender, receiver in ((ours, ref), (ref, ours)):
            for copy in (True, False):
                sent = sender.send(a, "comm_msg", {"comm_id": "c", "data": {"n": 1}}, buffers=[big, b"x"])
                idents, got = receiver.recv(b, mode=0, copy=copy)
                assert idents == []
                assert got["header"]["msg_id"] == sent["header"]["msg_id"]
                assert got["content"] == {"comm_id": "c", "data": {"n": 1}}
                assert [bytes(buf) for buf in got["buffers"]] == [big, b"x"]
    finally:
        a.close(linger=0)
        b.close(linger=0)
        ctx.term()


# -----------------------------------------------------------------------------
# the kernelspec
# -----------------------------------------------------------------------------


def test_install_command(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "jsession.kernel", "install", "--prefix", str(tmp_path)]
        + ["--name", "jsession-cli", "--display-name", "Py (cli)"],
        env=_env_with_jsession(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    ).stdout
    where = tmp_path / "share" / "jupyter" / "kernels" / "jsession-cli"
    assert out.strip() == f"Installed kernelspec jsession-cli in {where}"
    spec = json.loads((where / "kernel.json").read_text())
    assert spec["argv"] == [sys.executable, "-m", "jsession.kernel", "-f", "{connection_file}"]
    assert spec["display_name"] == "Py (cli)"
    assert spec["language"] == "python"
    assert (where / "logo-64x64.png").exists()


def test_install_defaults(tmp_path):
    where = Path(install(prefix=str(tmp_path)))
    assert where == tmp_path / "share" / "jupyter" / "kernels" / "python3-jsession"
    spec = KernelSpecManager(kernel_dirs=[str(where.parent)]).get_kernel_spec("python3-jsession")
    assert spec.display_name == "Python 3 (jsession)"
    assert spec.argv[1:3] == ["-m", "jsession.kernel"]


def test_install_refuses_user_with_prefix(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "jsession.kernel", "install", "--user", "--prefix", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env_with_jsession(),
    )
    assert done.returncode == 2
    assert "not allowed with argument" in done.stderr


# -----------------------------------------------------------------------------
# kernels: fixtures and helpers
# -----------------------------------------------------------------------------


def _env_with_jsession() -> dict[str, str]:
    """The environment, with this jsession importable (an in-place build included)."""
    env = dict(os.environ)
    root = str(Path(jsession.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory) -> dict[str, str]:
    env = _env_with_jsession()
    env["IPYTHONDIR"] = str(tmp_path_factory.mktemp("ipython"))  # keep ~/.ipython untouched
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # debugpy's frozen-modules note
    return env


def start_kernel_process(argv: list[str], where: Path, env: dict[str, str]):
    """Start ``python *argv -f conn.json`` on a connection file with ports 0 (the kernel
    picks them and writes them back); returns the process and the completed info."""
    conn = where / "conn.json"
    conn.write_text(
        json.dumps(
            {
                "ip": "127.0.0.1",
                "transport": "tcp",
                "key": uuid.uuid4().hex,
                "signature_scheme": "hmac-sha256",
                "kernel_name": "",
                **dict.fromkeys(PORTS, 0),
            }
        )
    )
    proc = subprocess.Popen([sys.executable, *argv, "-f", str(conn)], env=env, cwd=where)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"kernel {argv} exited with {proc.returncode}")
        try:
            info = json.loads(conn.read_text())
        except ValueError:  # being written
            info = {}
        if all(info.get(p) for p in PORTS):
            return proc, conn, info
        time.sleep(0.05)
    proc.kill()
    raise TimeoutError(f"kernel {argv} wrote no ports")


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(TIMEOUT)


@pytest.fixture(scope="module")
def km(tmp_path_factory, kernel_env):
    """A jsession kernel from its installed kernelspec, managed by jupyter_client's
    KernelManager given a jsession Session (sha512, to prove the scheme is carried)."""
    prefix = tmp_path_factory.mktemp("prefix")
    spec_dir = Path(install(prefix=str(prefix), name="jsession-test"))
    manager = KernelManager(
        kernel_name="jsession-test",
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir.parent)]),
        session=Session(signature_scheme="hmac-sha512"),
    )
    manager.start_kernel(env=kernel_env)
    try:
        # a stock client not made by the manager judges liveness by heartbeats, and takes
        # a kernel still starting for a dead one: wait here with the manager's own client
        ready = manager.client()
        ready.start_channels()
        try:
            ready.wait_for_ready(timeout=30)
        finally:
            ready.stop_channels()
        yield manager
    finally:
        manager.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kc(km):
    """A stock jupyter_client client (stock Session) on the jsession kernel."""
    client = BlockingKernelClient()
    client.load_connection_file(km.connection_file)
    assert type(client.session) is reference.Session
    client.start_channels()
    try:
        client.wait_for_ready(timeout=30)
        assert_ok(execute(client, ECHO_TARGET)[0])
        yield client
    finally:
        client.stop_channels()


def shell_reply(client, msg_id: str, timeout: float = TIMEOUT) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        reply = client.get_shell_msg(timeout=max(0.01, deadline - time.monotonic()))
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply


def iopub_until_idle(client, msg_id: str, timeout: float = TIMEOUT) -> list[dict]:
    """The iopub messages that answer msg_id, up to its idle status."""
    deadline = time.monotonic() + timeout
    got = []
    while True:
        msg = client.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        got.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return got


def execute(client, code: str, **kwargs) -> tuple[dict, list[dict]]:
    msg_id = client.execute(code, **kwargs)
    return shell_reply(client, msg_id), iopub_until_idle(client, msg_id)


def assert_ok(reply: dict) -> None:
    content = reply["content"]
    assert content["status"] == "ok", ANSI.sub("", "\n".join(content.get("traceback", []))) or content


def stdout_of(iopub: list[dict]) -> str:
    return "".join(
        m["content"]["text"] for m in iopub if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"
    )


# -----------------------------------------------------------------------------
# an ipykernel on jsession, driven by a stock client
# -----------------------------------------------------------------------------


def test_kernel_session_is_jsession_everywhere(kc):
    reply, iopub = execute(kc, SESSION_REPORT)
    assert_ok(reply)
    report = json.loads(stdout_of(iopub))
    assert report.pop("module").startswith("jsession")
    assert report.pop("implementation") == jsession.IMPLEMENTATION
    assert report.pop("signature_scheme") == "hmac-sha512"
    assert all(report.values()), report


def test_execute_keeps_state_and_streams(kc):
    reply, _ = execute(kc, "x = 21")
    assert_ok(reply)
    reply, iopub = execute(kc, "print('twice', x * 2)\nx * 2")
    assert_ok(reply)
    assert stdout_of(iopub) == "twice 42\n"
    (result,) = [m for m in iopub if m["msg_type"] == "execute_result"]
    assert result["content"]["data"]["text/plain"] == "42"
    assert result["content"]["execution_count"] == reply["content"]["execution_count"]


def test_error_reply_with_traceback(kc):
    reply, iopub = execute(kc, "def f():\n    return 1 / 0\nf()")
    content = reply["content"]
    assert (content["status"], content["ename"]) == ("error", "ZeroDivisionError")
    assert any("1 / 0" in ANSI.sub("", line) for line in content["traceback"])
    (error,) = [m for m in iopub if m["msg_type"] == "error"]
    assert error["content"]["ename"] == "ZeroDivisionError"


def test_input_answered_over_stdin(kc):
    msg_id = kc.execute("name = input('who? ')\nprint('hello', name)", allow_stdin=True)
    request = kc.get_stdin_msg(timeout=TIMEOUT)
    assert request["msg_type"] == "input_request"
    assert request["content"]["prompt"] == "who? "
    kc.input("jsession")
    assert shell_reply(kc, msg_id)["content"]["status"] == "ok"
    assert stdout_of(iopub_until_idle(kc, msg_id)) == "hello jsession\n"


def test_comm_echoes_16_mib_buffer(kc):
    payload = os.urandom(16 * 2**20)
    comm_id = uuid.uuid4().hex
    kc.shell_channel.send(
        kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": "jsession-echo", "data": {}})
    )
    kc.session.send(kc.shell_channel.socket, "comm_msg", {"comm_id": comm_id, "data": {}}, buffers=[payload])
    deadline = time.monotonic() + TIMEOUT
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
        if msg["msg_type"] == "comm_msg" and msg["content"]["comm_id"] == comm_id:
            break
    assert msg["content"]["data"] == {
        "nbytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    (echoed,) = msg["buffers"]
    assert echoed == payload


def test_interrupt(km, kc):
    # stop_on_error=False: an error reply otherwise makes the kernel abort the requests
    # that arrive for a short while after it, and the liveness check below is one of them
    msg_id = kc.execute("import time; time.sleep(60)", stop_on_error=False)
    deadline = time.monotonic() + TIMEOUT
    while True:  # wait until the cell runs
        msg = kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
        if msg["msg_type"] == "execute_input" and msg["parent_header"].get("msg_id") == msg_id:
            break
    time.sleep(0.2)
    km.interrupt_kernel()
    reply = shell_reply(kc, msg_id, timeout=10)
    assert (reply["content"]["status"], reply["content"]["ename"]) == ("error", "KeyboardInterrupt")
    reply, _ = execute(kc, "'still alive'")
    assert reply["content"]["status"] == "ok"


# -----------------------------------------------------------------------------
# clients on jsession Sessions
# -----------------------------------------------------------------------------


def test_kernel_manager_given_a_jsession_session(km):
    info = json.loads(Path(km.connection_file).read_text())
    assert info["signature_scheme"] == "hmac-sha512" == km.session.signature_scheme
    assert info["key"].encode() == km.session.key
    client = km.client()  # gets a clone of the manager's session
    assert type(client.session) is Session
    assert client.session.key == km.session.key
    client.start_channels()
    try:
        client.wait_for_ready(timeout=30)
        reply, iopub = execute(client, "print('via km.client()')")
        assert reply["content"]["status"] == "ok"
        assert stdout_of(iopub) == "via km.client()\n"
    finally:
        client.stop_channels()


def test_jsession_blocking_client_from_connection_file(km):
    client = jsession.kernel.BlockingKernelClient(connection_file=km.connection_file)
    client.load_connection_file()
    assert type(client.session) is Session
    assert client.session.signature_scheme == "hmac-sha512"
    assert client.session.key == km.session.key
    client.start_channels()
    try:
        client.wait_for_ready(timeout=30)
        reply, iopub = execute(client, "print(6 * 7)")
        assert reply["content"]["status"] == "ok"
        assert stdout_of(iopub) == "42\n"
    finally:
        client.stop_channels()


def test_blocking_client_gets_without_an_event_loop(km):
    # the channel's blocking call directly: same messages, Empty on timeout, and it works
    # where run_sync could not start a loop of its own (inside a running one)
    client = jsession.kernel.BlockingKernelClient(connection_file=km.connection_file)
    client.load_connection_file()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=30)
        with pytest.raises(queue.Empty):
            client.get_iopub_msg(timeout=0.05)
        with pytest.raises(queue.Empty):
            client.get_control_msg(timeout=0.01)

        async def inside_a_loop() -> tuple[dict, list[dict]]:
            return execute(client, "print(6 * 7)")

        reply, iopub = asyncio.run(inside_a_loop())
        assert reply["content"]["status"] == "ok"
        assert stdout_of(iopub) == "42\n"
    finally:
        client.stop_channels()


@pytest.mark.parametrize("idents", [[], [b"topic"], [b"a", b"b"]])
def test_client_frames_copy_the_small_ones_and_keep_content_in_place(idents, pair_sockets):
    from jsession.kernel.client import recv_frames

    a, b = pair_sockets
    s = Session(key=b"k")
    text = "t" * (300 * 1024)
    sent = s.send(a, "display_data", {"data": {"text/plain": text}}, ident=idents, buffers=[b"x" * 100])
    frames = recv_frames(b)
    d = len(idents)
    assert frames[: d + 5] == [*idents, core.DELIM, *(bytes(f) for f in frames[d + 1 : d + 5])]
    assert all(type(f) is bytes for f in frames[: d + 5])
    assert all(isinstance(f, zmq.Frame) for f in frames[d + 5 :]) and len(frames) == d + 7
    idents_got, rest = s.feed_identities(frames, copy=False)
    assert idents_got == idents
    msg = s.deserialize(rest, copy=False)
    assert msg["content"]["data"]["text/plain"] == text and msg["header"] == sent["header"]
    assert bytes(msg["buffers"][0]) == b"x" * 100


def test_jsession_async_client(km):
    async def run() -> tuple[dict, list[dict]]:
        client = jsession.kernel.AsyncKernelClient(connection_file=km.connection_file)
        client.load_connection_file()
        assert type(client.session) is Session
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=30)
            msg_id = client.execute("print('async', 1 + 1)")
            while (reply := await client.get_shell_msg(timeout=TIMEOUT))["parent_header"]["msg_id"] != msg_id:
                pass
            iopub = []
            while not iopub or iopub[-1]["content"].get("execution_state") != "idle":
                msg = await client.get_iopub_msg(timeout=TIMEOUT)
                if msg["parent_header"].get("msg_id") == msg_id:
                    iopub.append(msg)
            return reply, iopub
        finally:
            client.stop_channels()

    reply, iopub = asyncio.run(run())
    assert_ok(reply)
    assert stdout_of(iopub) == "async 2\n"


# -----------------------------------------------------------------------------
# shutdown of a jsession kernel launched directly, from a stock client
# -----------------------------------------------------------------------------


def test_launched_directly_and_shut_down(tmp_path, kernel_env):
    argv = ["-m", "jsession.kernel", "--Session.username=from-cli"]  # ipykernel's options apply
    proc, conn, _ = start_kernel_process(argv, tmp_path, kernel_env)
    client = BlockingKernelClient()
    try:
        client.load_connection_file(str(conn))
        client.start_channels()
        client.wait_for_ready(timeout=30)
        code = "s = get_ipython().kernel.session\nprint(type(s).__module__, s.username)"
        reply, iopub = execute(client, code)
        assert_ok(reply)
        assert stdout_of(iopub) == "jsession.kernel.session from-cli\n"
        assert all(m["header"]["username"] == "from-cli" for m in iopub)
        msg_id = client.shutdown()
        reply = client.control_channel.get_msg(timeout=TIMEOUT)
        assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["msg_type"] == "shutdown_reply"
        assert reply["content"]["status"] == "ok"
        assert proc.wait(TIMEOUT) == 0
    finally:
        client.stop_channels()
        stop_process(proc)


# -----------------------------------------------------------------------------
# a stock ipykernel, driven by jsession alone
# -----------------------------------------------------------------------------


def test_what_imports_what():
    # the core: neither jupyter_client nor ipykernel; the client side: no ipykernel
    code = (
        "import sys, jsession, jsession.session, jsession.jsonutil, jsession.adapter\n"
        "assert not {'jupyter_client', 'ipykernel'} & set(sys.modules), sorted(sys.modules)\n"
        "import jsession.kernel\n"
        "assert 'ipykernel' not in sys.modules and 'IPython' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], env=_env_with_jsession(), check=True, timeout=TIMEOUT)


class RawClient:
    """A Jupyter client made of pyzmq sockets and a jsession Session, nothing else."""

    def __init__(self, info: dict) -> None:
        self.session = core.Session(key=info["key"].encode(), signature_scheme=info["signature_scheme"])
        assert not isinstance(self.session, reference.Session)
        self.context = zmq.Context()
        url = f"tcp://{info['ip']}:%d"
        self.shell = self.context.socket(zmq.DEALER)
        self.shell.connect(url % info["shell_port"])
        self.iopub = self.context.socket(zmq.SUB)
        self.iopub.setsockopt(zmq.SUBSCRIBE, b"")
        self.iopub.connect(url % info["iopub_port"])

    def close(self) -> None:
        self.shell.close(linger=0)
        self.iopub.close(linger=0)
        self.context.term()

    def request(self, msg_type: str, content: dict | None = None) -> str:
        return self.session.send(self.shell, msg_type, content)["header"]["msg_id"]

    def _recv(self, socket: zmq.Socket, timeout: float) -> dict | None:
        if not socket.poll(int(timeout * 1000)):
            return None
        return self.session.recv(socket, mode=0, copy=False)[1]

    def reply(self, msg_id: str, timeout: float = TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self._recv(self.shell, deadline - time.monotonic())
            if msg is not None and msg["parent_header"].get("msg_id") == msg_id:
                return msg
        raise TimeoutError(f"no reply to {msg_id}")

    def iopub_until_idle(self, msg_id: str, timeout: float = TIMEOUT) -> list[dict]:
        deadline = time.monotonic() + timeout
        got = []
        while time.monotonic() < deadline:
            msg = self._recv(self.iopub, deadline - time.monotonic())
            if msg is None or msg["parent_header"].get("msg_id") != msg_id:
                continue
            got.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return got
        raise TimeoutError(f"no idle status for {msg_id}")

    def wait_for_ready(self, timeout: float = 30) -> dict:
        """kernel_info until iopub is seen to be subscribed too; returns the last reply."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self.reply(self.request("kernel_info_request"), timeout)
            if self._recv(self.iopub, 0.5) is not None:
                return reply
        raise TimeoutError("iopub never delivered")


@pytest.fixture(scope="module")
def stock_kernel(tmp_path_factory, kernel_env):
    where = tmp_path_factory.mktemp("stock")
    proc, _, info = start_kernel_process(["-m", "ipykernel_launcher"], where, kernel_env)
    try:
        client = RawClient(info)
        try:
            yield client
        finally:
            client.close()
    finally:
        stop_process(proc)


def test_raw_client_kernel_info(stock_kernel):
    reply = stock_kernel.wait_for_ready()
    assert reply["msg_type"] == "kernel_info_reply"
    assert reply["content"]["status"] == "ok"
    assert reply["content"]["language_info"]["name"] == "python"
    assert reply["content"]["implementation"] == "ipython"


def test_raw_client_execute_and_stream(stock_kernel):
    stock_kernel.wait_for_ready()
    code = (
        "import jupyter_client.session as s\nprint('stock', type(get_ipython().kernel.session) is s.Session)"
    )
    msg_id = stock_kernel.request(
        "execute_request",
        {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False},
    )
    reply = stock_kernel.reply(msg_id)
    assert reply["msg_type"] == "execute_reply"
    assert reply["content"]["status"] == "ok"
    iopub = stock_kernel.iopub_until_idle(msg_id)
    assert [m["msg_type"] for m in iopub][:2] == ["status", "execute_input"]
    assert stdout_of(iopub) == "stock True\n"
