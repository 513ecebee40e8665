"""Transport: zero copy frame by frame, trackers, asyncio and ZMQStream sockets."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import zmq
import zmq.asyncio

from conftest import subprocess_env
from jsession import session as ss

KEY = b"transport-key"


@pytest.fixture
def session(impl):
    return ss.Session(key=KEY)


def _wait_done(tracker, timeout=2.0):
    try:
        tracker.wait(timeout)
    except zmq.NotDone:
        return False
    return True


def test_large_buffer_is_sent_without_a_copy_and_small_one_is_copied(session, pair_sockets):
    a, b = pair_sockets
    large = bytearray(b"L" * (1 << 20))
    small = bytearray(b"s" * 100)
    session.send(a, "data", buffers=[small, large])
    # zmq holds the large buffer's memory itself, the small one was copied at send time
    large[:4] = b"XXXX"
    small[:4] = b"XXXX"
    _, msg = session.recv(b, mode=0, copy=False)
    assert bytes(msg["buffers"][0][:4]) == b"ssss"
    assert bytes(msg["buffers"][1][:4]) == b"XXXX"


def test_received_buffers_are_the_frames_memory(session, pair_sockets):
    a, b = pair_sockets
    session.send(a, "data", buffers=[os.urandom(300_000), b"tiny"])
    frames = b.recv_multipart(copy=False)
    _, rest = session.feed_identities(frames, copy=False)
    msg = session.deserialize(rest, copy=False)
    for view, frame in zip(msg["buffers"], frames[-2:], strict=True):
        assert view.obj is frame
        # the very same memory: the address of the view is the address of the frame's data
        assert _address(view) == _address(memoryview(frame))


def _address(view: memoryview) -> int:
    import ctypes

    # pyzmq's frames are writable buffers, so ctypes can tell where their bytes live
    return ctypes.addressof(ctypes.c_char.from_buffer(view))


def test_tracker_waits_for_every_zero_copy_frame(session, pair_sockets):
    a, b = pair_sockets
    first, second = bytearray(1 << 20), bytearray(1 << 20)
    msg = session.send(a, "data", buffers=[first, second], track=True)
    tracker = msg["tracker"]
    assert isinstance(tracker, zmq.MessageTracker) and tracker is not ss.DONE
    assert not tracker.done
    frames = b.recv_multipart(copy=False)
    first_frame, last_frame = frames[-2], frames[-1]
    del frames
    del last_frame  # pyzmq's own send_multipart would report done here (it tracks the last frame)
    gc.collect()
    assert not _wait_done(tracker, 0.2)
    del first_frame
    gc.collect()
    assert _wait_done(tracker)


def test_tracking_a_message_without_large_frames_is_done_at_once(session, pair_sockets):
    msg = session.send(pair_sockets[0], "x", buffers=[b"small"], track=True)
    assert msg["tracker"] is ss.DONE


def _sent_without_a_copy(session, socket, size):
    """Whether send handed a ``size``-byte buffer to ZeroMQ without copying it: only such
    a frame is tracked (a copied one is released at once)."""
    msg = session.send(socket, "x", buffers=[bytearray(size)], track=True)
    return msg["tracker"] is not ss.DONE


def test_default_threshold_sends_from_the_measured_crossover(session, pair_sockets):
    # the trait reads as jupyter_client's default, and the measured size applies
    assert session.copy_threshold == ss.DEFAULT_COPY_THRESHOLD == 2**16
    a, b = pair_sockets
    sizes = [2**16, ss.ZERO_COPY_MIN - 1, ss.ZERO_COPY_MIN, 2**20]
    assert [_sent_without_a_copy(session, a, n) for n in sizes] == [False, False, True, True]
    for n in sizes:
        _, msg = session.recv(b, mode=0, copy=False)
        assert msg["buffers"][0].nbytes == n


@pytest.mark.parametrize("threshold", [2**16 - 1, 2**16 + 1, 2**20])
def test_an_explicit_copy_threshold_is_used_as_given(impl, pair_sockets, threshold):
    s = ss.Session(key=KEY, copy_threshold=threshold)
    a, b = pair_sockets
    for n in sorted({threshold - 1, threshold, 2**17}):
        assert _sent_without_a_copy(s, a, n) is (n >= threshold), n
        _, msg = s.recv(b, mode=0, copy=False)
        assert msg["buffers"][0].nbytes == n


def test_tracker_covers_zero_copy_frames_beside_copied_large_ones(session, pair_sockets):
    # a 128 KiB frame is copied under the default rule, the 1 MiB one is not: the tracker
    # waits for the 1 MiB frame alone
    a, b = pair_sockets
    msg = session.send(a, "data", buffers=[bytearray(1 << 17), bytearray(1 << 20)], track=True)
    tracker = msg["tracker"]
    assert tracker is not ss.DONE and len(tracker.peers) == 1
    frames = b.recv_multipart(copy=False)
    assert [len(f) for f in frames[-2:]] == [1 << 17, 1 << 20]
    del frames
    gc.collect()
    assert _wait_done(tracker)


@pytest.mark.parametrize("copy", [True, False])
@pytest.mark.parametrize("frames_know_more", [True, False], ids=["frame.more", "rcvmore"])
def test_recv_takes_every_frame_of_one_message(session, pair_sockets, monkeypatch, copy, frames_know_more):
    # both ways of finding a message's last frame: Frame.more (pyzmq's Cython backend) and
    # asking the socket (any backend)
    monkeypatch.setattr(ss, "_FRAMES_KNOW_MORE", frames_know_more and ss._FRAMES_KNOW_MORE)
    a, b = pair_sockets
    big = os.urandom(300_000)
    session.send(a, "data", content={"k": 1}, ident=[b"id1", b"id2"], buffers=[b"one", big])
    session.send(a, "next", content={})
    idents, msg = session.recv(b, mode=0, copy=copy)
    assert [bytes(i) for i in idents] == [b"id1", b"id2"]
    assert msg["content"] == {"k": 1}
    assert [bytes(buf) for buf in msg["buffers"]] == [b"one", big]
    _, following = session.recv(b, mode=0, copy=copy)
    assert following["header"]["msg_type"] == "next"
    assert session.recv(b, copy=copy) == (None, None)  # nothing left over


def test_copy_threshold_is_per_session(impl, pair_sockets):
    s = ss.Session(key=KEY, copy_threshold=10)
    buf = bytearray(b"0123456789abc")
    s.send(pair_sockets[0], "x", buffers=[buf])
    buf[:1] = b"Z"
    _, msg = s.recv(pair_sockets[1], mode=0, copy=False)
    assert bytes(msg["buffers"][0][:1]) == b"Z"


def test_asyncio_send_and_recv(session):
    async def main():
        ctx = zmq.asyncio.Context()
        a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
        a.bind("inproc://async-transport")
        b.connect("inproc://async-transport")
        try:
            receiving = asyncio.ensure_future(session.recv_async(b, copy=False))
            await asyncio.sleep(0)
            assert not receiving.done()  # awaiting, not polling
            payload = os.urandom(200_000)
            await session.send_async(a, "comm_msg", content={"n": 1}, ident=b"me", buffers=[payload])
            idents, msg = await asyncio.wait_for(receiving, 5)
            assert idents == [b"me"] and msg["content"] == {"n": 1}
            assert msg["buffers"][0] == payload
            # the synchronous API accepts asyncio sockets too
            session.send(b, "reply", content={"n": 2})
            idents, msg = await asyncio.wait_for(session.recv_async(a), 5)
            assert msg["content"] == {"n": 2}
            assert session.recv(a) == (None, None)
        finally:
            a.close(linger=0)
            b.close(linger=0)
            ctx.term()

    asyncio.run(main())


def test_async_api_refuses_sync_sockets(session, pair_sockets):
    with pytest.raises(TypeError, match="zmq.asyncio.Socket"):
        asyncio.run(session.recv_async(pair_sockets[0]))
    with pytest.raises(TypeError, match="zmq.asyncio.Socket"):
        asyncio.run(session.send_async(pair_sockets[0], "x"))


def test_zmqstream_send_and_recv(session, pair_sockets):
    pytest.importorskip("tornado")
    from tornado.ioloop import IOLoop
    from zmq.eventloop.zmqstream import ZMQStream

    a, b = pair_sockets
    loop = IOLoop(make_current=False)
    try:
        stream_a = ZMQStream(a, io_loop=loop)
        stream_b = ZMQStream(b, io_loop=loop)
        payload = os.urandom(100_000)
        session.send(stream_a, "x", content={"via": "stream"}, buffers=[payload])
        stream_a.flush()
        idents, msg = session.recv(stream_b, mode=0)
        assert msg["content"] == {"via": "stream"} and msg["buffers"][0] == payload
    finally:
        loop.close(all_fds=False)


RECEIVER = textwrap.dedent(
    """
    import resource, sys, zmq
    from jsession import Session
    size = int(sys.argv[2])
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PAIR)
    sock.bind(sys.argv[1])
    print("ready", flush=True)
    s = Session(key=b"rss-key")
    sock.poll()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    idents, msg = s.recv(sock, mode=0, copy=False)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert msg["buffers"][0].nbytes == size
    print((after - before) * 1024)
    """
)


@pytest.mark.parametrize("implementation", ["compiled", "python"])
def test_receiving_a_large_buffer_costs_no_extra_memory(tmp_path, implementation):
    size = 256 << 20
    endpoint = f"ipc://{tmp_path}/rss.sock"
    env = subprocess_env(JSESSION_PURE_PYTHON="1" if implementation == "python" else "0")
    proc = subprocess.Popen(
        [sys.executable, "-c", RECEIVER, endpoint, str(size)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        ctx = zmq.Context()
        sock = ctx.socket(zmq.PAIR)
        sock.connect(endpoint)
        ss.Session(key=b"rss-key").send(sock, "data", buffers=[bytearray(size)])
        out, _ = proc.communicate(timeout=120)
        sock.close(linger=0)
        ctx.term()
    finally:
        proc.kill()
    assert proc.returncode == 0
    growth = int(out.strip().splitlines()[-1])
    # ZeroMQ's own receive buffer is the only copy: the growth stays within 1.05x the buffer
    assert growth <= 1.05 * size, growth


# -----------------------------------------------------------------------------
# send_frames: one whole multipart message, even when a send is interrupted
# -----------------------------------------------------------------------------


def test_send_frames_sends_one_multipart_message(impl, pair_sockets):
    a, b = pair_sockets
    impl.frames.send_frames(zmq.backend.Socket.send, a, [b"x", b"y" * 100_000, b"z"], zmq.SNDMORE)
    assert b.recv_multipart() == [b"x", b"y" * 100_000, b"z"]


def test_send_frames_finishes_the_message_before_a_keyboard_interrupt(impl):
    # pyzmq runs the signal handlers after each libzmq call, the frame already taken: the
    # SIGINT handler's KeyboardInterrupt is held until the message's last frame is sent
    sent: list[tuple[bytes, int]] = []

    def send(socket, part, flags):
        sent.append((part, flags))
        if len(sent) in (1, 2):
            raise KeyboardInterrupt(len(sent))

    with pytest.raises(KeyboardInterrupt) as raised:
        impl.frames.send_frames(send, None, [b"a", b"b", b"c"], 2)
    assert raised.value.args == (1,)  # the first interrupt
    assert sent == [(b"a", 2), (b"b", 2), (b"c", 0)]  # each frame once, the message whole


def test_send_copied_checks_every_frame_before_sending_any(impl, pair_sockets):
    a, b = pair_sockets
    sent = []

    def send(socket, frame, flags):
        sent.append((frame, flags))

    with pytest.raises(TypeError, match="frame 2 does not support the buffer protocol: str"):
        impl.frames.send_copied(send, a, [b"x", b"y", "not a buffer", b"z"], 1 << 20, zmq.SNDMORE)
    assert sent == []  # nothing half sent
    # a frame at the threshold goes the zero-copy way: nothing sent here either
    assert impl.frames.send_copied(send, a, [b"x", bytearray(10)], 10, zmq.SNDMORE) is False
    assert sent == []
    assert impl.frames.send_copied(send, a, [b"x", memoryview(b"yy")], 10, zmq.SNDMORE) is True
    assert [(bytes(f), flags) for f, flags in sent] == [(b"x", zmq.SNDMORE), (b"yy", 0)]


def test_recv_frames_reads_one_message_as_frames_or_bytes(impl, pair_sockets):
    a, b = pair_sockets
    a.send_multipart([b"1", b"22", b"333"])
    a.send_multipart([b"next"])
    frames = impl.frames.recv_frames(zmq.backend.Socket.recv, b, 0, False)
    assert [type(f) for f in frames] == [zmq.Frame] * 3
    assert [f.bytes for f in frames] == [b"1", b"22", b"333"]
    assert impl.frames.recv_frames(zmq.backend.Socket.recv, b, 0, True) == [b"next"]


def test_send_of_a_str_ident_to_a_socket_sends_nothing(session, pair_sockets):
    a, b = pair_sockets
    with pytest.raises(TypeError):
        session.send(a, "data", content={}, ident="not bytes")
    session.send(a, "next", content={})
    _, msg = session.recv(b, mode=0)
    assert msg["msg_type"] == "next"  # no stray frames of the refused message


class _Overriding(ss.Session):
    """Records every overridable step that send and recv take."""

    calls: list[str]

    def msg(self, *args, **kwargs):
        self.calls.append("msg")
        return super().msg(*args, **kwargs)

    def serialize(self, *args, **kwargs):
        self.calls.append("serialize")
        return super().serialize(*args, **kwargs)

    def feed_identities(self, *args, **kwargs):
        self.calls.append("feed_identities")
        return super().feed_identities(*args, **kwargs)

    def deserialize(self, *args, **kwargs):
        self.calls.append("deserialize")
        return super().deserialize(*args, **kwargs)


@pytest.mark.parametrize("copy", [True, False])
def test_send_and_recv_call_a_subclass_overrides(impl, pair_sockets, copy):
    s = _Overriding(key=KEY)
    s.calls = []
    a, b = pair_sockets
    s.send(a, "ping", content={"n": 1})
    _, msg = s.recv(b, mode=0, copy=copy)
    assert s.calls == ["msg", "serialize", "feed_identities", "deserialize"]
    assert msg["content"] == {"n": 1}


def test_send_and_recv_call_methods_replaced_on_the_instance(session, pair_sockets):
    a, b = pair_sockets
    calls = []
    for name in ("msg", "serialize", "feed_identities", "deserialize"):
        method = getattr(session, name)
        setattr(session, name, lambda *args, _m=method, _n=name, **kw: calls.append(_n) or _m(*args, **kw))
    session.send(a, "ping", content={"n": 2})
    _, msg = session.recv(b, mode=0)
    assert calls == ["msg", "serialize", "feed_identities", "deserialize"]
    assert msg["content"] == {"n": 2}


@pytest.mark.parametrize("packer", ["orjson", "json", "pickle"])
def test_sent_frames_are_the_serialized_message(impl, pair_sockets, packer):
    s = ss.Session(key=KEY, packer=packer, unpacker=packer)
    a, b = pair_sockets
    parent = s.msg("parent")
    msg = s.send(a, "data", content={"k": [1, "x"]}, parent=parent, ident=[b"i1"], metadata={"m": 1})
    assert b.recv_multipart() == s.serialize(msg, ident=[b"i1"])
    assert msg["tracker"] is ss.DONE


def test_a_large_content_is_sent_without_a_copy_and_tracked(session, pair_sockets):
    a, b = pair_sockets
    text = "x" * ss.ZERO_COPY_MIN
    msg = session.send(a, "data", content={"text": text}, track=True)
    assert msg["tracker"] is not ss.DONE
    _, got = session.recv(b, mode=0)
    assert got["content"] == {"text": text}
    gc.collect()
    assert _wait_done(msg["tracker"])


def test_a_copy_threshold_set_later_is_used(session, pair_sockets):
    a, b = pair_sockets
    assert session.send(a, "x", content={"k": "v" * 64}, track=True)["tracker"] is ss.DONE
    session.copy_threshold = 16
    assert session.send(a, "x", content={"k": "v" * 64}, track=True)["tracker"] is not ss.DONE
    session.copy_threshold = ss.DEFAULT_COPY_THRESHOLD
    assert session.send(a, "x", content={"k": "v" * 64}, track=True)["tracker"] is ss.DONE
    for _ in range(3):
        assert session.recv(b, mode=0)[1]["content"] == {"k": "v" * 64}


@pytest.mark.parametrize("copy", [True, False])
def test_recv_of_a_routed_message_gives_its_idents(session, pair_sockets, copy):
    a, b = pair_sockets
    session.send(a, "data", content={}, ident=[b"r1", b"r2"])
    idents, msg = session.recv(b, mode=0, copy=copy)
    assert [bytes(i) for i in idents] == [b"r1", b"r2"]
    assert all(type(i) is bytes for i in idents)
    assert msg["msg_type"] == "data"


def test_recv_refuses_a_message_without_delimiter(session, pair_sockets):
    a, b = pair_sockets
    a.send_multipart([b"no", b"delimiter"])
    with pytest.raises(ValueError, match="not in"):
        session.recv(b, mode=0)


# -----------------------------------------------------------------------------
# transport: whole copied messages in one call (straight on libzmq when compiled)
# -----------------------------------------------------------------------------


def test_transport_goes_straight_to_libzmq_where_it_can(impl):
    # the compiled core finds the libzmq that pyzmq's Cython backend loaded (dlsym on Linux)
    direct = impl.name == "compiled" and sys.platform == "linux" and ss._FRAMES_KNOW_MORE
    assert impl.transport.available is direct


@pytest.mark.parametrize("count", [1, 4, 40])
def test_transport_sends_and_receives_whole_messages(impl, pair_sockets, count):
    a, b = pair_sockets
    frames = [b"a", b"", bytearray(b"c" * 1000), memoryview(b"dd"), zmq.Frame(b"frame")]
    frames = (frames * count)[:count]
    assert impl.transport.send_copied(a, frames, 1 << 20) is True
    a.send_multipart([b"next"])
    got = impl.transport.recv_copied(b, 0)
    assert got == [bytes(f) for f in frames]
    assert all(type(f) is bytes for f in got)
    assert impl.transport.recv_copied(b, 0) == [b"next"]


def test_transport_sends_a_tracked_frame_as_its_own_message(impl, pair_sockets):
    a, b = pair_sockets
    frame = zmq.Frame(b"t" * 100, track=True)
    assert impl.transport.send_copied(a, [b"head", frame], 1 << 20) is True
    assert impl.transport.recv_copied(b, 0) == [b"head", b"t" * 100]
    # libzmq released the Frame's own message once delivered: its tracker is done while the
    # Frame is still alive (a copy would leave it pending until the Frame is collected)
    assert _wait_done(frame.tracker)


def test_transport_send_checks_every_frame_before_sending_any(impl, pair_sockets):
    a, b = pair_sockets
    send = impl.transport.send_copied
    with pytest.raises(TypeError, match="frame 2 does not support the buffer protocol: str"):
        send(a, [b"x", b"y", "not a buffer", b"z"], 1 << 20)
    with pytest.raises(ValueError, match="frame 1 is not contiguous"):
        send(a, [b"x", memoryview(b"abcdef")[::2]], 1 << 20)
    with pytest.raises(ValueError, match="no frames to send"):
        send(a, [], 1 << 20)
    # a frame at the threshold goes the zero-copy way: nothing sent here
    assert send(a, [b"x", bytearray(10)], 10) is False
    with pytest.raises(zmq.Again):
        impl.transport.recv_copied(b, zmq.NOBLOCK)


def test_transport_on_a_closed_socket_raises_as_pyzmq(impl):
    ctx = zmq.Context()
    s = ctx.socket(zmq.PAIR)
    s.close()
    try:
        with pytest.raises(zmq.ZMQError) as raised:
            impl.transport.send_copied(s, [b"x"], 10)
        assert raised.value.errno == zmq.ENOTSOCK
        with pytest.raises(zmq.ZMQError) as raised:
            impl.transport.recv_copied(s, 0)
        assert raised.value.errno == zmq.ENOTSOCK
    finally:
        ctx.term()


def _signal_main_thread_soon(signum: int) -> threading.Thread:
    main = threading.main_thread().ident
    assert main is not None
    timer = threading.Timer(0.05, signal.pthread_kill, (main, signum))
    timer.start()
    return timer


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs pthread_kill")
def test_transport_recv_runs_signal_handlers_while_waiting(impl, pair_sockets):
    a, b = pair_sockets
    seen = []

    def handler(signum, frame):
        seen.append(signum)
        if len(seen) == 1:
            raise KeyboardInterrupt
        a.send_multipart([b"x", b"y"])  # the wait goes on, and this arrives

    before = signal.signal(signal.SIGUSR1, handler)
    try:
        _signal_main_thread_soon(signal.SIGUSR1)
        with pytest.raises(KeyboardInterrupt):
            impl.transport.recv_copied(b, 0)
        _signal_main_thread_soon(signal.SIGUSR1)
        assert impl.transport.recv_copied(b, 0) == [b"x", b"y"]
    finally:
        signal.signal(signal.SIGUSR1, before)
    assert len(seen) == 2


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs pthread_kill")
def test_transport_send_finishes_the_message_before_a_keyboard_interrupt(impl):
    ctx = zmq.Context()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    for s in (a, b):
        s.sndhwm = s.rcvhwm = 1
        s.linger = 0
    a.bind("inproc://transport-interrupt")
    b.connect("inproc://transport-interrupt")
    filled = 0
    while True:  # until a send would block
        try:
            a.send(b"fill", zmq.NOBLOCK)
            filled += 1
        except zmq.Again:
            break
    received: list[list[bytes]] = []

    def drain() -> None:
        # after the interrupt: take everything, the whole message last
        time.sleep(0.3)
        while b.poll(5000):
            received.append(b.recv_multipart())
            if received[-1] != [b"fill"]:
                return

    reader = threading.Thread(target=drain)
    before = signal.signal(signal.SIGUSR1, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt("sigusr1")))
    try:
        reader.start()
        _signal_main_thread_soon(signal.SIGUSR1)
        with pytest.raises(KeyboardInterrupt, match="sigusr1"):
            impl.transport.send_copied(a, [b"one", b"two", b"three"], 1 << 20)
        reader.join()
    finally:
        signal.signal(signal.SIGUSR1, before)
        a.close()
        b.close()
        ctx.term()
    assert received == [[b"fill"]] * filled + [[b"one", b"two", b"three"]]
