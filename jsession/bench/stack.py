"""The ``stack`` section: the Jupyter stack stock and under ``python -m jsession run``.

Whole programs, timed in processes of their own, stock and switched taking turns:

- a bare ``python -c pass`` (what the bootstrap adds to every Python process beneath ``run``);
- nbclient executing a notebook whose cells stream output and send comm messages (wall time
  of the cells, kernel start excluded);
- jupyter_server relaying a kernel's IOPub stream (comm messages) to a websocket client, in
  the default JSON protocol (the server unpacks and repacks each message): time per message
  at the client, and the server process's CPU time per message;
- ipyparallel (a controller and two engines): small tasks, and tasks carrying 1 MiB arrays
  both ways (time per task).

Not run by default (``--section stack``): it needs nbclient, jupyter_server, ipyparallel and
numpy (the ``bench`` extra) and takes a few minutes.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jsession.bench.case import Case, Section
from jsession.bench.impls import Impl, register
from jsession.bench.runner import CaseResult, Progress, Settings

if TYPE_CHECKING:
    from jsession.bench.env import Env

STOCK, SWITCHED = "stack-stock", "stack-switched"
register(
    Impl(STOCK, "stock", "process", short="stock"),
    Impl(SWITCHED, "jsession run", "process", short="switched"),
)

# the notebook: cells that stream output, and cells whose comm sends messages to the client
STREAM_CELL = "import sys\nfor i in range({n}):\n    print('line', i, 'x' * 60)\n    sys.stdout.flush()\n"
COMM_CELL = (
    "from comm import create_comm\n"
    "c = create_comm(target_name='jsession-bench')\n"
    "for i in range({n}):\n    c.send({{'i': i, 'text': 'y' * 100}})\n"
    "c.close()\n"
)
# the kernel side of the server case: comm messages on IOPub as fast as the kernel sends them,
# in bursts that each wait for the client (an input request) so that no queue overflows: a
# ZeroMQ PUB socket drops what its subscriber has not taken past 1000 messages
BURST = 500
PUBLISH = (
    "from comm import create_comm\n"
    "c = create_comm(target_name='jsession-bench')\n"
    "for burst in range({n} // {burst}):\n"
    "    for i in range({burst}):\n"
    "        c.send({{'i': i, 'text': 'z' * 100}})\n"
    "    input()\n"
)


def _command(switched: bool, *args: str) -> list[str]:
    command = [sys.executable, "-c", f"from jsession.bench.stack import main; main({list(args)!r})"]
    return [sys.executable, "-m", "jsession", "run", *command] if switched else command


def _env(tmp: str) -> dict[str, str]:
    """Stock and switched children alike: the same jsession, Jupyter's directories in tmp."""
    import jsession

    root = os.path.dirname(os.path.dirname(os.path.abspath(jsession.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        env[name] = os.path.join(tmp, name.lower())
    env.pop("JSESSION_SWITCH", None)
    return env


def _child(switched: bool, *args: str, timeout: float = 600) -> dict[str, Any]:
    """Run one measurement in a process of its own; its last stdout line, as JSON."""
    with tempfile.TemporaryDirectory(prefix="jsb-stack-") as tmp:
        result = subprocess.run(
            _command(switched, *args), env=_env(tmp), cwd=tmp, capture_output=True, text=True, timeout=timeout
        )
    if result.returncode:
        raise RuntimeError(f"stack benchmark child {args} failed:\n{result.stderr[-3000:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    if report.get("switched") != switched:
        raise RuntimeError(f"the child's switch was {report.get('switched')}, expected {switched}")
    return report


def _turns(
    case: Case, impls: list[Impl], settings: Settings, progress: Progress, measure: Any
) -> dict[str, list[dict[str, Any]]]:
    """``measure(switched)`` for stock and switched in turns, ``repeats`` times each."""
    repeats = 2 if settings.quick else 3
    runs: dict[str, list[dict[str, Any]]] = {impl.name: [] for impl in impls}
    for repeat in range(repeats):
        order = impls if repeat % 2 == 0 else impls[::-1]
        for impl in order:
            progress.update(f"{case.name} [{repeat + 1}/{repeats}]: {impl.name}")
            runs[impl.name].append(measure(impl.name == SWITCHED))
    return runs


def _result(case: Case, runs: dict[str, list[dict[str, Any]]], key: str) -> CaseResult:
    result = CaseResult(case)
    for name, reports in runs.items():
        result.runs[name] = [r[key] for r in reports]
        result.best[name] = min(result.runs[name])
        result.extra[name] = reports
    return result


# -- startup ---------------------------------------------------------------------------------


def run_startup(
    case: Case, impls: list[Impl], env: Env, settings: Settings, progress: Progress
) -> CaseResult:
    """``python -c pass``, stock and with run's environment, alternating: what the bootstrap
    adds to every Python process beneath ``jsession run``."""
    from jsession.run import switched_environment

    rounds = 10 if settings.quick else 100
    environments = {STOCK: dict(os.environ), SWITCHED: switched_environment()}
    environments[STOCK].pop("JSESSION_SWITCH", None)
    result = CaseResult(case)
    for impl in impls:
        result.runs[impl.name] = []
    for index in range(rounds):
        progress.update(f"{case.name} [{index + 1}/{rounds}]")
        order = impls if index % 2 == 0 else impls[::-1]
        for impl in order:
            # CPU time (user + system) of the child: wall time swings with the machine's load
            proc = subprocess.Popen([sys.executable, "-c", "pass"], env=environments[impl.name])
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode:
                raise RuntimeError(f"python -c pass exited with {proc.returncode}")
            result.runs[impl.name].append(usage.ru_utime + usage.ru_stime)
    for name, runs in result.runs.items():
        result.best[name] = min(runs)
        result.extra[name] = {"median": sorted(runs)[len(runs) // 2]}
    return result


# -- nbclient --------------------------------------------------------------------------------


def run_nbclient(
    case: Case, impls: list[Impl], env: Env, settings: Settings, progress: Progress
) -> CaseResult:
    lines, messages = (300, 300) if settings.quick else (2000, 2000)
    runs = _turns(
        case, impls, settings, progress, lambda sw: _child(sw, "nbclient", str(lines), str(messages))
    )
    return _result(case, runs, "seconds")


def child_nbclient(lines: int, messages: int) -> dict[str, Any]:
    import nbformat
    from nbclient import NotebookClient

    cells = [STREAM_CELL.format(n=lines), COMM_CELL.format(n=messages)] * 3
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = NotebookClient(nb, kernel_name="python3", timeout=600)
    with client.setup_kernel():
        start = time.perf_counter()
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        seconds = time.perf_counter() - start
    outputs = sum(len(cell.outputs) for cell in nb.cells)
    return {"seconds": seconds, "outputs": outputs}


# -- jupyter_server --------------------------------------------------------------------------

_server_cache: dict[str, CaseResult] = {}


def run_server(case: Case, impls: list[Impl], env: Env, settings: Settings, progress: Progress) -> CaseResult:
    # one measurement gives both figures: the second case reads what the first one measured
    if case.name in _server_cache:
        return _server_cache.pop(case.name)
    messages = 2000 if settings.quick else 10000
    runs = _turns(case, impls, settings, progress, lambda sw: _child(sw, "server", str(messages)))
    other = next(c for c in SECTION.cases if c.run is run_server and c is not case)
    _server_cache[other.name] = _result(other, runs, "cpu_per_message")
    return _result(case, runs, "seconds_per_message")


def child_server(messages: int) -> dict[str, Any]:
    return asyncio.run(_server_relay(messages))


async def _server_relay(messages: int) -> dict[str, Any]:
    from tornado.httpclient import AsyncHTTPClient, HTTPRequest
    from tornado.websocket import websocket_connect

    token = uuid.uuid4().hex
    port = _free_port()
    # a plain server: no extension (ipyparallel's, when installed, turns header dates off)
    config_dir = os.environ["JUPYTER_CONFIG_DIR"]
    os.makedirs(config_dir, exist_ok=True)
    with open(os.path.join(config_dir, "jupyter_server_config.json"), "w") as f:
        json.dump({"ServerApp": {"jpserver_extensions": {"ipyparallel": False}}}, f)
    jupyter_server = os.path.join(os.path.dirname(sys.executable), "jupyter-server")
    server = subprocess.Popen(
        [
            *(jupyter_server, "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}"),
            *("--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"),
            *("--ServerApp.open_browser=False", "--ServerApp.allow_root=True"),
            # no rate limit: the relay itself is measured
            "--ZMQChannelsWebsocketConnection.iopub_msg_rate_limit=0",
            "--ZMQChannelsWebsocketConnection.iopub_data_rate_limit=0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"127.0.0.1:{port}"
    headers = {"Authorization": f"token {token}"}
    http = AsyncHTTPClient()
    try:
        for _ in range(300):
            try:
                await http.fetch(f"http://{base}/api/status", headers=headers)
                break
            except OSError:
                await asyncio.sleep(0.2)
        kernel = json.loads(
            (await http.fetch(f"http://{base}/api/kernels", method="POST", headers=headers, body="{}")).body
        )
        ws = await websocket_connect(
            HTTPRequest(
                f"ws://{base}/api/kernels/{kernel['id']}/channels?session_id={uuid.uuid4().hex}",
                headers=headers,
            ),
            max_message_size=2**26,
        )

        async def send(channel: str, msg_type: str, content: dict[str, Any]) -> str:
            msg_id = uuid.uuid4().hex
            header = {
                "msg_id": msg_id,
                "msg_type": msg_type,
                "username": "bench",
                "session": "bench",
                "date": "2026-01-01T00:00:00.000000Z",
                "version": "5.4",
            }
            msg = {
                "header": header,
                "parent_header": {},
                "metadata": {},
                "content": content,
                "channel": channel,
            }
            await ws.write_message(json.dumps(msg))
            return msg_id

        async def execute(code: str) -> tuple[int, float, float]:
            msg_id = await send(
                "shell", "execute_request", {"code": code, "silent": False, "allow_stdin": True}
            )
            count, first, last = 0, 0.0, 0.0
            asked = answered = 0  # input requests: the kernel has sent asked * BURST messages
            while True:
                data: Any = await asyncio.wait_for(ws.read_message(), 120)
                msg = json.loads(data)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                kind = msg["header"]["msg_type"]
                if kind == "input_request":
                    asked += 1
                elif msg["channel"] != "iopub":
                    continue
                elif kind == "comm_msg":
                    count += 1
                    now = time.perf_counter()
                    first = first or now
                    last = now
                elif kind == "status" and msg["content"]["execution_state"] == "idle":
                    return count, first, last
                if answered < asked and count >= asked * BURST:  # the whole burst is here
                    await send("stdin", "input_reply", {"value": ""})
                    answered += 1

        for _ in range(100):  # until the kernel answers
            try:
                await asyncio.wait_for(execute("1"), 3)
                break
            except asyncio.TimeoutError:
                continue
        await execute(PUBLISH.format(n=BURST, burst=BURST))  # warm up
        cpu_before = _cpu_seconds(server.pid)
        count, first, last = await execute(PUBLISH.format(n=messages, burst=BURST))
        cpu = _cpu_seconds(server.pid) - cpu_before
        ws.close()
        await http.fetch(f"http://{base}/api/kernels/{kernel['id']}", method="DELETE", headers=headers)
    finally:
        server.terminate()
        server.wait(30)
    if count != messages:
        raise RuntimeError(f"{count} of {messages} messages arrived")
    return {
        "seconds_per_message": (last - first) / (count - 1),
        "messages_per_second": (count - 1) / (last - first),
        "cpu_per_message": cpu / count,
    }


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- ipyparallel -----------------------------------------------------------------------------

_ipp_cache: dict[str, CaseResult] = {}


def run_ipp(case: Case, impls: list[Impl], env: Env, settings: Settings, progress: Progress) -> CaseResult:
    if case.name in _ipp_cache:
        return _ipp_cache.pop(case.name)
    small, big = (200, 20) if settings.quick else (2000, 100)
    runs = _turns(case, impls, settings, progress, lambda sw: _child(sw, "ipp", str(small), str(big)))
    other = next(c for c in SECTION.cases if c.run is run_ipp and c is not case)
    _ipp_cache[other.name] = _result(other, runs, "seconds_per_big_task")
    return _result(case, runs, "seconds_per_small_task")


def child_ipp(small: int, big: int) -> dict[str, Any]:
    import ipyparallel as ipp
    import numpy as np

    array = np.random.default_rng(1).standard_normal(2**17)  # 1 MiB of float64
    with ipp.Cluster(n=2, log_level=40) as rc:
        view = rc.load_balanced_view()
        view.map_sync(abs, range(100))  # warm up
        start = time.perf_counter()
        view.map_sync(abs, range(small), chunksize=1)
        small_seconds = time.perf_counter() - start
        start = time.perf_counter()
        results = view.map_sync(np.negative, [array] * big, chunksize=1)
        big_seconds = time.perf_counter() - start
        if not all(np.array_equal(r, -array) for r in results):
            raise RuntimeError("wrong results")
    return {"seconds_per_small_task": small_seconds / small, "seconds_per_big_task": big_seconds / big}


# -- the section -----------------------------------------------------------------------------


def _case(name: str, label: str, run: Any, unit: str = "seconds per operation") -> Case:
    return Case(
        name, label, (STOCK, SWITCHED), None, (), subject=SWITCHED, baseline=STOCK, unit=unit, run=run
    )


SECTION = Section(
    "stack",
    "The Jupyter stack, stock and under python -m jsession run",
    (
        _case("stack_startup", "python -c pass: interpreter start, CPU time", run_startup),
        _case("stack_nbclient", "nbclient: notebook, 6 cells of streams and comm messages", run_nbclient),
        _case("stack_server_relay", "jupyter_server: IOPub to websocket, per message", run_server),
        _case("stack_server_cpu", "jupyter_server: server CPU per relayed message", run_server),
        _case("stack_ipp_small", "ipyparallel: small tasks, per task", run_ipp),
        _case("stack_ipp_1mib", "ipyparallel: tasks with 1 MiB arrays, per task", run_ipp),
    ),
    default=False,
    table="stack",
)


def main(argv: list[str]) -> None:
    """A measurement in this process (stock, or switched by ``jsession run``): prints JSON."""
    import jsession

    kind, *args = argv
    children: dict[str, Callable[..., dict[str, Any]]] = {
        "nbclient": child_nbclient,
        "server": child_server,
        "ipp": child_ipp,
    }
    report = children[kind](*map(int, args))
    report["switched"] = jsession.installed()
    print(json.dumps(report))
