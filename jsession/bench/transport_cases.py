"""The transport section: send + recv over ipc sockets, and the peak memory of a 1 GiB receive.

The floor of a transport case is the fastest known way to move the same frames: pyzmq's
barest loops (the backend's send and recv per frame) with every frame copied, or sent as
pyzmq sends with copy=False, and libzmq called directly with a whole copied message in one
call (jsession's compiled transport, where it finds libzmq), all timed in the same run; the
fastest is the floor.
A large-content case has a floor of its own: the least work any session must do on top of
moving the frames, i.e. pack the same content with orjson, HMAC-SHA256 the packed frames
twice (sign, verify), unpack them, and move them (copy or zero copy, the faster). The unpack
is the fastest known here: jsession's compiled JSON decoder where it is built (it reads long
strings several times faster than orjson 3.13), else orjson.
"""

from __future__ import annotations

import hmac
import random
from collections.abc import Callable
from functools import partial
from typing import Any

import orjson
import zmq

from jsession.bench.case import Case, Op, Section, Target
from jsession.bench.env import Env
from jsession.bench.impls import KEY, Impl, direct_transport, register, serializing_session
from jsession.bench.memory import run_big_case
from jsession.bench.payloads import COMM_CONTENT, EXECUTE_REQUEST, MiB, display_data_content
from jsession.session import DELIM

register(
    Impl("work-copy", "pack + 2 HMAC + unpack + pyzmq, copy", "floor", short="work, copy", column=False),
    Impl(
        "work-zerocopy",
        "pack + 2 HMAC + unpack + pyzmq, zero copy",
        "floor",
        short="work, zero copy",
        column=False,
    ),
)

COMPARED = ("jsession", "jsession-python", "jupyter_client", "pyzmq")
TRANSPORT_FLOOR = ("pyzmq-copy", "pyzmq-zerocopy", "libzmq-copy")
WORK_FLOOR = ("work-copy", "work-zerocopy")


_backend_send = zmq.backend.Socket.send
_backend_recv = zmq.backend.Socket.recv
# pyzmq's Cython backend sets Frame.more on every recv(copy=False); the CFFI one may not
_FRAMES_KNOW_MORE = zmq.backend.Socket.__module__.startswith("zmq.backend.cython")


def bare_sender(socket: zmq.Socket, copy: bool) -> Callable[[list], None]:
    """``socket.send_multipart(frames, copy=copy)`` without pyzmq's Python layers: the
    backend's send, frame by frame (with copy=False pyzmq still copies frames under the
    socket's copy_threshold, 64 KiB)."""

    def send(frames: list) -> None:
        last = len(frames) - 1
        for i in range(last):
            _backend_send(socket, frames[i], zmq.SNDMORE, copy)
        _backend_send(socket, frames[last], 0, copy)

    return send


def _send_direct(send_copied: Callable[[Any, list, int], bool], socket: zmq.Socket, frames: list) -> None:
    # every frame copied (no threshold reached), the whole message in one libzmq call
    if not send_copied(socket, frames, 1 << 62):
        raise RuntimeError("libzmq's functions were not found: no direct floor")


def bare_receiver(socket: zmq.Socket, copy: bool) -> Callable[[], list]:
    """``socket.recv_multipart(copy=copy)`` done the fastest way pyzmq allows: Frames, whose
    ``more`` says where the message ends (asking the socket costs an enum lookup a frame),
    turned into bytes for copy=True."""
    if not _FRAMES_KNOW_MORE:
        return lambda: socket.recv_multipart(0, copy)

    def recv() -> list:
        frame = _backend_recv(socket, 0, False)
        parts = [frame.bytes if copy else frame]
        while frame.more:
            frame = _backend_recv(socket, 0, False)
            parts.append(frame.bytes if copy else frame)
        return parts

    return recv


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
    if impl.kind == "floor":
        return _work_floor(impl, a, b, msg_type, content, copy, per_call)
    if impl.kind == "pyzmq":
        s = serializing_session()
        frames = s.serialize(s.msg(msg_type, content=content)) + list(buffers or ())
        send_multipart: Callable[[list], Any]
        recv_multipart: Callable[[], Any]
        if impl.name == "pyzmq":
            # pyzmq's API, with jupyter_client's whole-message copy rule
            send_copy = max(len(memoryview(f)) for f in frames) < (1 << 16)
            send_multipart = partial(a.send_multipart, copy=send_copy)
            recv_multipart = partial(b.recv_multipart, 0, copy)
        elif impl.name == "libzmq-copy":
            direct = direct_transport()
            send_multipart = partial(_send_direct, direct.send_copied, a)
            recv_multipart = partial(direct.recv_copied, b, 0)
        else:
            send_multipart = bare_sender(a, copy=impl.name == "pyzmq-copy")
            recv_multipart = bare_receiver(b, copy)

        def raw_fn() -> None:
            for _ in range(per_call):
                send_multipart(frames)
            for _ in range(per_call):
                recv_multipart()

        return Op(raw_fn, per_call=per_call)

    sender, receiver = impl.session(), impl.session()
    send, recv = sender.send, receiver.recv

    def fn() -> None:
        for _ in range(per_call):
            send(a, msg_type, content=content, buffers=buffers)
        for _ in range(per_call):
            recv(b, mode=0, copy=copy)

    return Op(fn, before=lambda: receiver.digest_history.clear(), per_call=per_call)


def _fastest_loads() -> Callable[[Any], Any]:
    """The fastest JSON unpack known here, whichever core the session under test runs."""
    try:
        from jsession._c.decoding import loads
    except ImportError:  # the compiled core is not built
        return orjson.loads
    return loads


def _work_floor(impl: Impl, a: Any, b: Any, msg_type: str, content: dict, copy: bool, per_call: int) -> Op:
    """What any session must do for a message: pack its four dicts with orjson, sign the
    packed frames (HMAC-SHA256: OpenSSL's, through hmac), move them, verify and unpack."""
    msg = serializing_session().msg(msg_type, content=content)
    dicts = (msg["header"], msg["parent_header"], msg["metadata"], content)
    keyed = hmac.new(KEY, digestmod="sha256")
    dumps, loads, compare = orjson.dumps, _fastest_loads(), hmac.compare_digest
    send_multipart = bare_sender(a, copy=impl.name == "work-copy")
    recv_multipart = bare_receiver(b, copy)

    def fn() -> None:
        for _ in range(per_call):
            parts = [dumps(d) for d in dicts]
            mac = keyed.copy()
            for part in parts:
                mac.update(part)
            send_multipart([DELIM, mac.hexdigest().encode(), *parts])
        for _ in range(per_call):
            frames = recv_multipart()
            views = [memoryview(f) for f in frames[2:6]]
            mac = keyed.copy()
            for view in views:
                mac.update(view)
            if not compare(mac.hexdigest().encode(), memoryview(frames[1]).tobytes()):
                raise RuntimeError("the floor's signature does not verify")
            for view in views:
                loads(view)

    return Op(fn, per_call=per_call)


def make_roundtrip_small(impl: Impl, env: Env) -> Op:
    return _round_trip(impl, env, "execute_request", EXECUTE_REQUEST, None, copy=True)


def make_stream_64k(impl: Impl, env: Env) -> Op:
    buffer = random.Random(1).randbytes(64 * 1024)
    return _round_trip(impl, env, "comm_msg", COMM_CONTENT, [buffer], copy=False, per_call=16)


def make_roundtrip_4mib(impl: Impl, env: Env) -> Op:
    content = display_data_content(4 * MiB)
    return _round_trip(impl, env, "display_data", content, None, copy=False)


SECTION = Section(
    "transport",
    "send + recv over ipc",
    (
        Case(
            "roundtrip_small",
            "send+recv execute_request, ipc",
            COMPARED + TRANSPORT_FLOOR,
            make_roundtrip_small,
            (Target("vs_floor", 1.3),),
            floor=TRANSPORT_FLOOR,
        ),
        Case(
            "stream_64k",
            "stream, 64 KiB buffer each, ipc",
            COMPARED + TRANSPORT_FLOOR,
            make_stream_64k,
            (Target("vs_floor", 1.2),),
            note="per message; 16 sent, then 16 received (copy=False)",
            floor=TRANSPORT_FLOOR,
        ),
        Case(
            "roundtrip_4mib",
            "send+recv display_data, 4 MiB JSON, ipc",
            COMPARED + TRANSPORT_FLOOR + WORK_FLOOR,
            make_roundtrip_4mib,
            # measured against the work it must do, not against jupyter_client: both libraries
            # spend this case in orjson and OpenSSL, at the floor (the jc column stays shown)
            (Target("vs_floor", 1.15),),
            note="recv(copy=False); the floor packs, signs, verifies and unpacks too",
            floor=WORK_FLOOR,
        ),
        Case(
            "recv_1gib",
            "recv {size} buffer copy=False: RSS growth",
            ("jsession", "jsession-python", "jupyter_client", "pyzmq-zerocopy"),
            None,
            (Target("rss_max", 1.05),),
            note="receiver and sender in processes of their own",
            floor=("pyzmq-zerocopy",),
            unit="ratio",
            run=run_big_case,
        ),
    ),
)
