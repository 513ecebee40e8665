"""Helpers for tests that start commands under ``python -m jsession run``."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

from conftest import subprocess_env


def free_port() -> int:
    """A TCP port free on the loopback address (for a server about to be started)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_command(*command: str) -> list[str]:
    """``python -m jsession run COMMAND...``."""
    return [sys.executable, "-m", "jsession", "run", *command]


def tool(name: str) -> str:
    """A console script installed beside this Python (``jupyter``, ``ipcluster``...)."""
    path = Path(sys.executable).parent / name
    assert path.exists(), f"{name} is not installed beside {sys.executable}"
    return str(path)


def switched_env(tmp_path: Path, **overrides: str) -> tuple[dict[str, str], Path]:
    """An environment for a switched command, with Jupyter's directories in tmp_path and
    an audit file that every process beneath it writes to; returns (env, audit file)."""
    audit = tmp_path / "audit.jsonl"
    env = subprocess_env(
        JSESSION_AUDIT=str(audit),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        IPYTHONDIR=str(tmp_path / "ipython"),
        JUPYTER_PLATFORM_DIRS="1",
        **overrides,
    )
    env.pop("JSESSION_SWITCH", None)
    return env, audit


def audit_entries(audit: Path) -> list[dict]:
    """The audit file's records: one per process for its first jsession Session, one per
    Session built that was not jsession's."""
    if not audit.exists():
        return []
    return [json.loads(line) for line in audit.read_text().splitlines() if line.strip()]


def assert_all_jsession(audit: Path) -> list[dict]:
    """No process built a Session other than jsession's; returns the jsession records."""
    entries = audit_entries(audit)
    others = [e for e in entries if e["kind"] != "jsession"]
    assert not others, f"Sessions that were not jsession's: {others}"
    assert entries, "no process recorded a jsession Session"
    return entries


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
