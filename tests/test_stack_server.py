"""A Jupyter server under ``python -m jsession run``, driven as JupyterLab drives it.

``python -m jsession run jupyter server`` on the loopback address; a kernel opened through the
REST API; its websocket spoken in both of the server's protocols (the default JSON one, with
binary frames for buffers, and ``v1.kernel.websocket.jupyter.org``): kernel info, execute with
stream output, a comm that echoes an 8 MiB binary buffer, interrupt, restart. Every message
must come back whole, and both the server's and the kernels' Sessions must be jsession's (the
audit file every switched process writes to).
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import importlib.util
import json
import os
import struct
import subprocess
import time
import uuid

import pytest

# looked up, not imported: the server runs in processes of its own
if not all(importlib.util.find_spec(m) for m in ("jupyter_server", "ipykernel")):
    pytest.skip("needs jupyter_server and ipykernel", allow_module_level=True)
tornado_httpclient = pytest.importorskip("tornado.httpclient")
from tornado.websocket import websocket_connect  # noqa: E402

from switched import assert_all_jsession, free_port, run_command, switched_env, tool  # noqa: E402

pytestmark = pytest.mark.timeout(240)

TOKEN = uuid.uuid4().hex
V1 = "v1.kernel.websocket.jupyter.org"
WAIT = 30  # seconds for any one expected message
MiB = 2**20

# a comm target that sends each message's first buffer back, with its length and digest
ECHO_TARGET = """
import hashlib
def _echo_target(comm, open_msg):
    @comm.on_msg
    def _echo(msg):
        buf = msg["buffers"][0]
        comm.send({"nbytes": buf.nbytes, "sha256": hashlib.sha256(buf).hexdigest()}, buffers=[buf])
get_ipython().kernel.comm_manager.register_target("jsession-echo", _echo_target)
"""

SESSION_REPORT = """
import json, jsession
module = type(get_ipython().kernel.session).__module__
print(json.dumps({"module": module, "installed": jsession.installed()}))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A switched Jupyter server on the loopback address: (base url, audit file, process)."""
    tmp = tmp_path_factory.mktemp("server")
    env, audit = switched_env(tmp)
    port = free_port()
    root = tmp / "root"
    root.mkdir()
    command = run_command(
        tool("jupyter"),
        "server",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}",
        "--ServerApp.open_browser=False",
        "--ServerApp.allow_root=True",
        f"--ServerApp.root_dir={root}",
    )
    log = open(tmp / "server.log", "w")  # noqa: SIM115 - open for the server's lifetime
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    base = f"127.0.0.1:{port}"
    try:
        try:
            asyncio.run(_wait_for_server(base, proc))
        except (AssertionError, TimeoutError) as e:
            raise AssertionError(f"{e}:\n{(tmp / 'server.log').read_text()[-3000:]}") from None
        yield base, audit, proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


async def _wait_for_server(base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            await _rest("GET", base, "/api/status")
            return
        except (OSError, tornado_httpclient.HTTPClientError):
            await asyncio.sleep(0.2)
    raise TimeoutError("the server did not answer in 60 s")


async def _rest(method: str, base: str, path: str, body: dict | None = None) -> dict:
    client = tornado_httpclient.AsyncHTTPClient()
    response = await client.fetch(
        f"http://{base}{path}",
        method=method,
        headers={"Authorization": f"token {TOKEN}"},
        body=json.dumps(body or {}) if method == "POST" else None,
        request_timeout=WAIT,
    )
    return json.loads(response.body) if response.body else {}


class KernelSocket:
    """The browser's side of a kernel's websocket, in either protocol."""

    def __init__(self, ws, protocol: str | None, session_id: str) -> None:
        self.ws = ws
        self.protocol = protocol
        self.session_id = session_id

    def header(self, msg_type: str) -> dict:
        return {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "username": "lab",
            "session": self.session_id,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "version": "5.4",
        }

    async def send(self, channel: str, msg_type: str, content: dict, buffers: tuple[bytes, ...] = ()) -> str:
        header = self.header(msg_type)
        if self.protocol == V1:
            parts = [json.dumps(p).encode() for p in (header, {}, {}, content)]
            await self.ws.write_message(encode_v1(channel, [*parts, *buffers]), binary=True)
        else:
            msg = {
                "header": header,
                "parent_header": {},
                "metadata": {},
                "content": content,
                "channel": channel,
            }
            if buffers:
                await self.ws.write_message(encode_binary(msg, list(buffers)), binary=True)
            else:
                await self.ws.write_message(json.dumps(msg))
        return header["msg_id"]

    async def recv(self) -> dict:
        """The next message: a dict with channel, header, parent_header, metadata, content,
        buffers (bytes)."""
        data = await asyncio.wait_for(self.ws.read_message(), WAIT)
        assert data is not None, "the websocket closed"
        if self.protocol == V1:
            assert isinstance(data, bytes), "v1 messages are binary"
            channel, parts = decode_v1(data)
            header, parent, metadata, content = (json.loads(p) for p in parts[:4])
            return {
                "channel": channel,
                "header": header,
                "parent_header": parent,
                "metadata": metadata,
                "content": content,
                "buffers": parts[4:],
            }
        if isinstance(data, bytes):
            return decode_binary(data)
        msg = json.loads(data)
        msg["buffers"] = []
        return msg

    async def reply_to(self, msg_id: str, channel: str, msg_type: str | None = None) -> dict:
        """The first message on ``channel`` whose parent is ``msg_id`` (and of msg_type);
        the messages before it are kept in ``self.seen``."""
        while True:
            msg = await self.recv()
            self.seen.append(msg)
            mine = msg["channel"] == channel and msg["parent_header"].get("msg_id") == msg_id
            if mine and (msg_type is None or msg["header"]["msg_type"] == msg_type):
                return msg

    seen: list[dict]

    async def execute(self, code: str) -> tuple[dict, list[dict]]:
        """Run code; (execute_reply, the iopub messages of that request up to idle)."""
        self.seen = []
        msg_id = await self.send("shell", "execute_request", {"code": code, "silent": False})
        reply = await self.reply_to(msg_id, "shell", "execute_reply")
        idle = [
            m
            for m in self.seen
            if m["header"]["msg_type"] == "status" and m["parent_header"].get("msg_id") == msg_id
        ]
        while not any(m["content"]["execution_state"] == "idle" for m in idle):
            idle.append(await self.reply_to(msg_id, "iopub", "status"))
        iopub = [
            m for m in self.seen if m["channel"] == "iopub" and m["parent_header"].get("msg_id") == msg_id
        ]
        return reply, iopub


def encode_binary(msg: dict, buffers: list[bytes]) -> bytes:
    """The default protocol's binary frame: count and offsets (32-bit big endian), the JSON
    message, then the buffers."""
    parts = [json.dumps(msg).encode(), *buffers]
    offsets = [4 * (len(parts) + 1)]
    for part in parts[:-1]:
        offsets.append(offsets[-1] + len(part))
    return struct.pack(f"!{len(parts) + 1}I", len(parts), *offsets) + b"".join(parts)


def decode_binary(data: bytes) -> dict:
    (count,) = struct.unpack("!I", data[:4])
    offsets = [*struct.unpack(f"!{count}I", data[4 : 4 * (count + 1)]), len(data)]
    parts = [data[offsets[i] : offsets[i + 1]] for i in range(count)]
    msg = json.loads(parts[0])
    msg["buffers"] = parts[1:]
    return msg


def encode_v1(channel: str, parts: list[bytes]) -> bytes:
    """v1.kernel.websocket.jupyter.org: the offset count and offsets (64-bit little endian),
    then the channel name and the message's parts."""
    chunks = [channel.encode(), *parts]
    offsets = [8 * (len(chunks) + 2)]
    for chunk in chunks:
        offsets.append(offsets[-1] + len(chunk))
    head = b"".join(n.to_bytes(8, "little") for n in (len(offsets), *offsets))
    return head + b"".join(chunks)


def decode_v1(data: bytes) -> tuple[str, list[bytes]]:
    count = int.from_bytes(data[:8], "little")
    offsets = [int.from_bytes(data[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(count)]
    chunks = [data[offsets[i] : offsets[i + 1]] for i in range(count - 1)]
    return chunks[0].decode(), chunks[1:]


async def _connect(base: str, kernel_id: str, protocol: str | None) -> KernelSocket:
    session_id = uuid.uuid4().hex
    request = tornado_httpclient.HTTPRequest(
        f"ws://{base}/api/kernels/{kernel_id}/channels?session_id={session_id}",
        headers={"Authorization": f"token {TOKEN}"},
    )
    ws = await websocket_connect(
        request, subprotocols=[protocol] if protocol else None, max_message_size=64 * MiB
    )
    assert ws.selected_subprotocol == protocol
    return KernelSocket(ws, protocol, session_id)


async def _until_kernel_answers(sock: KernelSocket) -> dict:
    """kernel_info_request until its reply and an IOPub message of it come back (as
    jupyter_server nudges a kernel: after a start or restart, IOPub takes a moment to connect
    and what the kernel publishes before that is lost)."""
    for _ in range(WAIT):
        sock.seen = []
        msg_id = await sock.send("shell", "kernel_info_request", {})
        try:
            reply = await asyncio.wait_for(sock.reply_to(msg_id, "shell", "kernel_info_reply"), 2)
            on_iopub = [
                m for m in sock.seen if m["channel"] == "iopub" and m["parent_header"].get("msg_id") == msg_id
            ]
            if not on_iopub:
                await asyncio.wait_for(sock.reply_to(msg_id, "iopub"), 2)
            return reply
        except asyncio.TimeoutError:
            continue
    raise TimeoutError("no kernel_info_reply")


async def _drive(base: str, protocol: str | None) -> dict:
    kernel = await _rest("POST", base, "/api/kernels", {"name": "python3"})
    sock = await _connect(base, kernel["id"], protocol)
    try:
        info = await _until_kernel_answers(sock)
        assert info["content"]["status"] == "ok"

        # execute, with stream output
        reply, iopub = await sock.execute("for i in range(3):\n    print('line', i, flush=True)")
        assert reply["content"]["status"] == "ok"
        text = "".join(m["content"]["text"] for m in iopub if m["header"]["msg_type"] == "stream")
        assert text == "line 0\nline 1\nline 2\n"

        reply, iopub = await sock.execute(SESSION_REPORT)
        report = json.loads(
            "".join(m["content"]["text"] for m in iopub if m["header"]["msg_type"] == "stream")
        )
        assert report == {"module": "jsession.kernel.session", "installed": True}

        # a comm echo of an 8 MiB binary buffer, both ways through the server
        reply, _ = await sock.execute(ECHO_TARGET)
        assert reply["content"]["status"] == "ok"
        comm_id = uuid.uuid4().hex
        sock.seen = []
        await sock.send(
            "shell", "comm_open", {"comm_id": comm_id, "target_name": "jsession-echo", "data": {}}
        )
        payload = os.urandom(8 * MiB)
        msg_id = await sock.send("shell", "comm_msg", {"comm_id": comm_id, "data": {}}, buffers=(payload,))
        echo = await sock.reply_to(msg_id, "iopub", "comm_msg")
        assert echo["content"]["data"] == {
            "nbytes": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(),
        }
        assert len(echo["buffers"]) == 1 and echo["buffers"][0] == payload

        # interrupt a running cell
        sock.seen = []
        msg_id = await sock.send(
            "shell", "execute_request", {"code": "import time; time.sleep(60)", "silent": False}
        )
        started = time.monotonic()
        await sock.reply_to(msg_id, "iopub", "execute_input")
        await _rest("POST", base, f"/api/kernels/{kernel['id']}/interrupt")
        reply = await sock.reply_to(msg_id, "shell", "execute_reply")
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
        assert time.monotonic() - started < WAIT

        # restart: the same websocket serves the new kernel. The pids come back as results, not
        # printed: a stream flushed by the kernel's output thread may trail the reply under load.
        async def kernel_pid() -> int:
            # a request that arrives while the kernel still aborts what followed the interrupted
            # one is answered "aborted" (ipykernel's stop_on_error): ask again
            for _ in range(WAIT):
                reply, iopub = await sock.execute("import os; os.getpid()")
                if reply["content"]["status"] != "aborted":
                    break
                await asyncio.sleep(0.1)
            assert reply["content"]["status"] == "ok"
            results = [m for m in iopub if m["header"]["msg_type"] == "execute_result"]
            return int(results[0]["content"]["data"]["text/plain"])

        before = await kernel_pid()
        await _rest("POST", base, f"/api/kernels/{kernel['id']}/restart")
        await _until_kernel_answers(sock)
        after = await kernel_pid()
        assert before != after
        return {"kernel_pids": {before, after}}
    finally:
        sock.ws.close()
        await _rest("DELETE", base, f"/api/kernels/{kernel['id']}")


@pytest.mark.parametrize("protocol", [None, V1], ids=["json", "v1"])
def test_server_relays_every_message_whole(server, protocol):
    base, audit, proc = server
    kernel_pids = asyncio.run(_drive(base, protocol))["kernel_pids"]
    records = assert_all_jsession(audit)
    on_jsession = {r["pid"] for r in records}
    assert proc.pid in on_jsession, "the server's Session was not jsession's"  # run execs the server
    assert kernel_pids <= on_jsession, "a kernel's Session was not jsession's"
