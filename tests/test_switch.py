"""The switch: ``jsession.install()`` in a process, ``python -m jsession run`` beneath a command.

Each case runs in a Python process of its own (the switch changes jupyter_client for the whole
process); the compatibility edges it relies on run in this one, over both cores.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import zmq

pytest.importorskip("jupyter_client")

from conftest import subprocess_env  # noqa: E402
from jsession.session import DELIM, DONE, Session  # noqa: E402
from switched import audit_entries, run_command  # noqa: E402


def python(code: str, *, switched: bool = False, env: dict[str, str] | None = None) -> dict:
    """Run code in a new Python (under ``jsession run`` when switched); its last stdout line,
    as JSON."""
    command = [sys.executable, "-c", textwrap.dedent(code)]
    result = subprocess.run(
        run_command(*command) if switched else command,
        env=env or subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


IMPORT_REFERENCE = "import json, jsession, jsession.session as core, jupyter_client.session as ref"
IDENTITIES = textwrap.dedent(
    f"""
    {IMPORT_REFERENCE}
    s = ref.Session(packer="json")
    print(json.dumps({{
        "installed": jsession.installed(),
        "session": ref.Session.__module__,
        "pack_is_json_packer": s.pack is ref.json_packer and ref.json_packer is core.json_packer,
        "unpack_is_json_unpacker": s.unpack is ref.json_unpacker,
        "tracker_is_DONE": s.send(None, "x")["tracker"] is ref.DONE,
        "message": ref.Message is core.Message,
        "is_reference_session": isinstance(s, ref.Session.__mro__[3]),
    }}))
    """
)


def test_install_before_jupyter_client_is_imported():
    report = python(
        textwrap.dedent(
            """
            import sys, jsession
            before = jsession.installed()
            jsession.install()
            jsession.install()  # idempotent
            assert "jupyter_client" not in sys.modules and "jsession.kernel" not in sys.modules
            """
        )
        + IDENTITIES.replace("print(json.dumps({", 'print(json.dumps({"before": before,')
    )
    assert report == {
        "before": False,
        "installed": True,
        "session": "jsession.kernel.session",
        "pack_is_json_packer": True,
        "unpack_is_json_unpacker": True,
        "tracker_is_DONE": True,
        "message": True,
        "is_reference_session": True,
    }


def test_install_rebinds_names_imported_before():
    report = python(
        """
        import json, jsession
        from jupyter_client.session import Session, DONE, json_packer
        import ipykernel.kernelbase as kernelbase
        import jupyter_client.connect as connect
        kept = [Session]  # out of reach of the switch
        jsession.install()
        import sys
        main = sys.modules["__main__"]
        print(json.dumps({
            "main": main.Session.__module__,
            "DONE": main.DONE is jsession.session.DONE,
            "json_packer": main.json_packer is jsession.session.json_packer,
            "kernelbase": kernelbase.Session.__module__,
            "stock_is_base": issubclass(main.Session, kept[0]) and main.Session is not kept[0],
            "connect_session": connect.ConnectionFileMixin().session.__module__,
        }))
        """
    )
    assert report == {
        "main": "jsession.kernel.session",
        "DONE": True,
        "json_packer": True,
        "kernelbase": "jsession.kernel.session",
        "stock_is_base": True,
        "connect_session": "jsession.kernel.session",
    }


def test_importing_jsession_changes_nothing():
    report = python(
        """
        import json, sys, jsession
        import jupyter_client.session as ref
        print(json.dumps({"installed": jsession.installed(), "session": ref.Session.__module__}))
        """
    )
    assert report == {"installed": False, "session": "jupyter_client.session"}


def test_run_switches_the_command_and_the_pythons_beneath_it(tmp_path):
    child = (
        "import json, jupyter_client.session as s, jsession;"
        "print(json.dumps([s.Session.__module__, jsession.installed()]))"
    )
    report = python(
        f"""
        import json, subprocess, sys
        {IMPORT_REFERENCE}
        out = subprocess.run([sys.executable, "-c", {child!r}], capture_output=True, text=True, check=True)
        print(json.dumps({{"self": ref.Session.__module__, "child": json.loads(out.stdout)}}))
        """,
        switched=True,
    )
    assert report == {"self": "jsession.kernel.session", "child": ["jsession.kernel.session", True]}


def test_run_costs_a_python_that_never_imports_jupyter_client_no_import():
    report = python(
        """
        import json, sys
        loaded = sorted(m for m in sys.modules if m.startswith(("jsession", "zmq", "jupyter")))
        waiting = any(getattr(f, "jsession_switch", False) for f in sys.meta_path)
        print(json.dumps({"jsession": loaded, "switch_waiting": waiting}))
        """,
        switched=True,
    )
    assert report == {"jsession": [], "switch_waiting": True}


def test_run_keeps_the_sitecustomize_it_shadows(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(
        "import builtins\nbuiltins.SHADOWED_SITECUSTOMIZE_RAN = True\n"
    )
    env = subprocess_env()
    env["PYTHONPATH"] = f"{tmp_path}:{env['PYTHONPATH']}"
    report = python(
        """
        import builtins, json, jupyter_client.session as s
        print(json.dumps([getattr(builtins, "SHADOWED_SITECUSTOMIZE_RAN", False), s.Session.__module__]))
        """,
        switched=True,
        env=env,
    )
    assert report == [True, "jsession.kernel.session"]


def test_run_exit_status_and_errors():
    run = [sys.executable, "-m", "jsession", "run"]
    env = subprocess_env()
    assert subprocess.run([*run, sys.executable, "-c", "raise SystemExit(7)"], env=env).returncode == 7
    missing = subprocess.run([*run, "no-such-command-jsession"], env=env, capture_output=True, text=True)
    assert missing.returncode == 127 and "command not found: no-such-command-jsession" in missing.stderr
    usage = subprocess.run(run, env=env, capture_output=True, text=True)
    assert usage.returncode == 2 and "usage: python -m jsession run CMD" in usage.stderr
    top = subprocess.run([sys.executable, "-m", "jsession"], env=env, capture_output=True, text=True)
    assert top.returncode == 2 and "jsession run CMD" in top.stderr


def test_audit_records_sessions_that_are_not_jsession_s(tmp_path):
    audit = tmp_path / "audit.jsonl"
    python(
        """
        import json, jsession
        import jupyter_client.session as ref
        kept = [ref.Session]  # out of reach of the switch, which rebinds module globals
        jsession.install()
        ref.Session(); ref.Session()
        kept[0]()  # jupyter_client's own class, kept from before the switch
        print("{}")
        """,
        env=subprocess_env(JSESSION_AUDIT=str(audit)),
    )
    kinds = [(e["kind"], e["class"]) for e in audit_entries(audit)]
    assert kinds == [
        ("jsession", "jsession.kernel.session.Session"),
        ("reference", "jupyter_client.session.Session"),
    ]


def test_replaced_extract_dates_is_honoured():
    # ipyparallel turns header date parsing off by assigning jupyter_client.session.extract_dates
    report = python(
        """
        import json, jsession
        jsession.install()
        import jupyter_client.session as ref
        from jupyter_client import jsonutil
        s = ref.Session()
        frames = s.serialize(s.msg("x", parent=s.msg("p")))
        parsed = type(s.deserialize(frames[1:])["header"]["date"]).__name__
        ref.extract_dates = lambda obj: obj
        frames = s.serialize(s.msg("x", parent=s.msg("p")))
        msg = s.deserialize(frames[1:])
        kept = [type(msg["header"]["date"]).__name__, type(msg["parent_header"]["date"]).__name__]
        ref.extract_dates = jsonutil.extract_dates
        frames = s.serialize(s.msg("x"))
        again = type(s.deserialize(frames[1:])["header"]["date"]).__name__
        print(json.dumps([parsed, kept, again]))
        """
    )
    assert report == ["datetime", ["str", "str"], "datetime"]


class FrameLike:
    """An object with only ``.bytes``, as ipykernel's tests hand to feed_identities."""

    def __init__(self, data: bytes) -> None:
        self.bytes = data


def test_feed_identities_takes_objects_with_only_bytes(impl):
    s = Session()
    rest = [FrameLike(b"sig"), 1]
    assert s.feed_identities([FrameLike(b"id1"), FrameLike(DELIM), *rest], copy=False) == ([b"id1"], rest)
    with pytest.raises(ValueError, match="DELIM not in msg_list"):
        s.feed_identities([FrameLike(b"id1"), 1], copy=False)


def test_zmqstream_send_with_a_str_ident_fails_when_the_stream_flushes(impl):
    from zmq.eventloop.zmqstream import ZMQStream

    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    stream = ZMQStream(sock)
    queued = []
    stream.on_send(lambda msg, status: queued.append(msg))
    try:
        s = Session()
        msg = s.send(stream, "connect_reply", {}, None, "not-bytes")  # queued, as by the reference
        assert msg["tracker"] is DONE
        with pytest.raises(TypeError):
            stream.flush()
    finally:
        stream.close()
        ctx.term()
