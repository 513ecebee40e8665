"""One Session shared by threads; the key kept out of sight; a forked child refused.

A kernel's IOPub thread and main thread share one Session: sending, verifying and the replay
history must hold up under concurrent use. The key must never show up in a repr, a log
record or an exception message. After ``fork`` the child must not send on the parent's
Session (as in the reference), yet can make its own.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import pickle
import select
import sys
import threading
import traceback
import warnings

import pytest
import zmq
from traitlets import TraitError
from traitlets.log import get_logger

from jsession import session as ss

KEY = b"thread-key-9b0e7f4c2d"
THREADS = 8
ROUNDS = 200
HISTORY = 64  # small, so the history is culled while other threads use it

# ---------------------------------------------------------------- threads


def test_one_session_shared_by_8_threads(impl):
    session = ss.Session(key=KEY, digest_history_size=HISTORY)
    ctx = zmq.Context()
    start = threading.Barrier(THREADS)
    errors: list[str] = []
    big = "x" * 70_000  # a content frame this large is hashed with the GIL released

    def work(n: int) -> None:
        a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
        try:
            a.bind(f"inproc://thread-{n}")
            b.connect(f"inproc://thread-{n}")
            start.wait()
            for i in range(ROUNDS):
                text = big if i % 10 == 0 else f"{n}:{i}"
                buffers = [f"{n}-{i}".encode(), bytes(70_000 if i % 7 == 0 else 10)]
                sent = session.send(a, "stream", content={"text": text, "n": n, "i": i}, buffers=buffers)
                idents, msg = session.recv(b, mode=0, copy=i % 2 == 0)
                if msg["content"] != {"text": text, "n": n, "i": i} or msg["header"] != sent["header"]:
                    errors.append(f"thread {n} round {i}: wrong message")
                if [bytes(x) for x in msg["buffers"]] != buffers:
                    errors.append(f"thread {n} round {i}: wrong buffers")
                # verify and deserialize without a socket, and refuse a tampered copy
                wire = session.serialize(session.msg("local", content={"n": n, "i": i}))
                _, rest = session.feed_identities(wire)
                if session.deserialize(rest)["content"] != {"n": n, "i": i}:
                    errors.append(f"thread {n} round {i}: wrong local message")
                for forged in ([*rest[:4], b'{"n": -1}'], [b"f" * 64, *rest[1:]]):
                    try:
                        session.deserialize(forged)
                        errors.append(f"thread {n} round {i}: forged message accepted")
                    except ValueError:
                        pass
        except Exception:
            errors.append(f"thread {n}: {traceback.format_exc()}")
            start.abort()
        finally:
            a.close(linger=0)
            b.close(linger=0)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    ctx.term()
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert 0 < len(session.digest_history) <= HISTORY


def test_a_message_delivered_to_several_threads_at_once_is_accepted_once(impl):
    # the replay check and the recording of the signature must be one step: two threads
    # given the same message at the same moment must not both accept it
    sender, receiver = ss.Session(key=KEY), ss.Session(key=KEY)
    wires = [
        sender.feed_identities(sender.serialize(sender.msg("x", content={"i": i})))[1] for i in range(8000)
    ]
    accepted: list[list[int]] = [[] for _ in range(THREADS)]
    start = threading.Barrier(THREADS)

    def work(n: int) -> None:
        start.wait()
        for i, rest in enumerate(wires):
            try:
                receiver.deserialize(list(rest))
            except ValueError:
                continue
            accepted[n].append(i)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        sys.setswitchinterval(interval)
    every = sorted(i for got in accepted for i in got)
    assert every == list(range(len(wires))), "a message was accepted twice, or never"


def test_message_ids_are_unique_across_threads(impl):
    # the counter is read and advanced in one step: no two messages share an id
    session = ss.Session(key=KEY)
    ids: list[list[str]] = [[] for _ in range(THREADS)]
    start = threading.Barrier(THREADS)

    def work(n: int) -> None:
        start.wait()
        for i in range(3000):
            ids[n].append(session.msg_id if i % 2 else session.msg("x")["header"]["msg_id"])

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        sys.setswitchinterval(interval)
    every = [i for got in ids for i in got]
    assert len(set(every)) == len(every) == THREADS * 3000
    assert session.message_count == THREADS * 3000


# ---------------------------------------------------------------- key hygiene

SECRET = b"k3y-th4t-must-n3ver-show-a7c1"


def _secret_forms() -> list[str]:
    return [SECRET.decode(), SECRET.hex(), repr(SECRET)[2:-1]]


def _assert_hidden(text: str, where: str) -> None:
    for form in _secret_forms():
        assert form not in text, f"the key shows in {where}"


def _errors_of_every_refusal(session: ss.Session) -> list[BaseException]:
    """Provoke every refusal a received message can meet, and return the exceptions."""
    sender = ss.Session(key=SECRET)
    wire = sender.serialize(sender.msg("x", content={"a": 1}), ident=b"id")
    _, rest = session.feed_identities(wire)
    cases = [
        lambda: session.deserialize(rest),  # accepted
        lambda: session.deserialize(rest),  # replay
        lambda: session.deserialize([b"", *rest[1:]]),
        lambda: session.deserialize([b"0" * 64, *rest[1:]]),
        lambda: session.deserialize([rest[0] * 40, *rest[1:]]),
        lambda: session.deserialize([]),
        lambda: session.feed_identities([b"no delimiter"]),
        lambda: session.feed_identities([zmq.Frame(b"no delimiter")], copy=False),
        lambda: session.deserialize([b"x", "not a buffer"]),
        lambda: session.sign(["not a buffer"]),
        lambda: session.send(None, "x", buffers=[1]),
        lambda: session.send(None, "x", buffers=[memoryview(b"abcd")[::2]]),
        lambda: session._signer.sign(object()),
        lambda: pickle.dumps(session._signer),
        lambda: copy.deepcopy(session._signer),
    ]
    raised = []
    for case in cases:
        try:
            case()
        except Exception as e:
            raised.append(e)
    for scheme in ("sha256", "hmac-nope", "hmac-"):
        try:
            ss.Session(key=SECRET).signature_scheme = scheme
        except TraitError as e:
            raised.append(e)
    return raised


def test_the_key_is_never_in_repr_str_logs_or_exception_messages(impl, caplog, capsys):
    with caplog.at_level(logging.DEBUG):
        session = ss.Session(key=SECRET, debug=True)
        raised = _errors_of_every_refusal(session)
        ctx = zmq.Context()
        a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
        a.bind("inproc://hygiene")
        b.connect("inproc://hygiene")
        session.send(a, "x", content={"a": 1})
        session.recv(b, mode=0)
        a.close(linger=0)
        b.close(linger=0)
        ctx.term()
        session.pid += 1  # as seen from a forked child: logs a warning with the message
        assert session.send(None, "x") is None
    assert len(raised) >= 15
    for e in raised:
        text = "".join(traceback.format_exception(e))
        _assert_hidden(text, f"{type(e).__name__}: {e}")
    _assert_hidden(caplog.text, "the log")
    assert "attempted to send message from fork" in caplog.text
    _assert_hidden(capsys.readouterr().out, "the debug output")
    for obj in (session, session._signer, session.auth):
        _assert_hidden(repr(obj), f"repr({type(obj).__name__})")
        _assert_hidden(str(obj), f"str({type(obj).__name__})")
    _assert_hidden(repr(ss.Message(session.msg("x"))), "a Message")


def test_keyfile_errors_are_clear_and_hide_the_key(impl, tmp_path):
    keyfile = tmp_path / "key"
    keyfile.write_bytes(SECRET + b"\n")
    assert ss.Session(keyfile=str(keyfile)).key == SECRET

    with pytest.raises(FileNotFoundError, match="cannot read Session.keyfile") as info:
        ss.Session(keyfile=str(tmp_path / "missing"))
    assert info.value.filename == str(tmp_path / "missing")
    with pytest.raises(IsADirectoryError, match="cannot read Session.keyfile") as info:
        ss.Session(keyfile=str(tmp_path), key=SECRET)
    _assert_hidden(str(info.value), "a keyfile error")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_keyfile_is_a_clear_error(impl, tmp_path):
    keyfile = tmp_path / "key"
    keyfile.write_bytes(SECRET)
    keyfile.chmod(0)
    with pytest.raises(PermissionError, match="cannot read Session.keyfile") as info:
        ss.Session(keyfile=str(keyfile))
    _assert_hidden(str(info.value), "a keyfile error")


# ---------------------------------------------------------------- fork


def _fork() -> int:
    # libzmq's I/O threads make the process multi-threaded: Python 3.12+ warns about fork().
    # The child only builds a new Context, as libzmq requires after fork.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


def _child(session: ss.Session, inherited: zmq.Socket, address: str, report: int) -> None:
    """In the forked child: try the parent's Session, then a new one; report on the pipe."""
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    get_logger().addHandler(Keep())
    result: dict = {}
    try:
        result["inherited_send"] = repr(session.send(inherited, "from_child", content={"who": "parent's"}))
        result["warned"] = any("attempted to send message from fork" in r for r in records)
        ctx = zmq.Context()
        push = ctx.socket(zmq.PUSH)
        push.connect(address)
        own = ss.Session(key=KEY, username="child")
        sent = own.send(push, "from_child", content={"who": "own"})
        result["own_msg_id"] = sent["header"]["msg_id"]
        result["own_pid"] = own.pid
        push.close(linger=5000)
        ctx.term()
    except BaseException:
        result["error"] = traceback.format_exc()
    os.write(report, json.dumps(result).encode())


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="needs POSIX fork")
def test_a_forked_child_is_refused_and_can_build_its_own_session(impl, tmp_path):
    session = ss.Session(key=KEY)
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    address = f"ipc://{tmp_path}/fork.sock"
    pull.bind(address)
    inherited = ctx.socket(zmq.PUSH)
    inherited.connect(address)
    read_end, write_end = os.pipe()
    pid = _fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            os.close(read_end)
            _child(session, inherited, address, write_end)
            code = 0
        finally:
            os._exit(code)
    try:
        os.close(write_end)
        ready, _, _ = select.select([read_end], [], [], 30)
        assert ready, "the forked child did not report in time"
        report = json.loads(os.read(read_end, 1 << 16) or b"{}")
        assert "error" not in report, report.get("error")
        assert report["inherited_send"] == "None" and report["warned"]
        assert report["own_pid"] == pid and f"_{pid}_" in report["own_msg_id"]
        # exactly one message arrives, from the child's own Session, signed with the key
        assert pull.poll(10_000), "the child's message did not arrive"
        idents, msg = session.recv(pull, mode=0)
        assert msg["content"] == {"who": "own"} and msg["header"]["username"] == "child"
        assert msg["header"]["msg_id"] == report["own_msg_id"]
        assert not pull.poll(200)
        assert os.waitpid(pid, 0)[1] == 0
        pid = 0
    finally:
        if pid:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(read_end)
        inherited.close(linger=0)
        pull.close(linger=0)
        ctx.term()
