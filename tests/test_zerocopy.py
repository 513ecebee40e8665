"""jsession's zero-copy send (the kernel's IOPub sends): whole messages, shared buffers
released once ZeroMQ is done with them, bad input refused before anything is sent."""

from __future__ import annotations

import gc
import sys
import threading
import time

import numpy as np
import pytest
import zmq

MiB = 1 << 20
THRESHOLD = 1 << 18


@pytest.fixture
def tcp_pair():
    ctx = zmq.Context()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    for s in (a, b):
        s.linger = 0
    a.bind("tcp://127.0.0.1:*")
    b.connect(a.last_endpoint)
    yield a, b
    a.close()
    b.close()
    ctx.term()


def _release_all(zerocopy, timeout=10.0):
    """Wait until ZeroMQ has let go of every shared buffer, and drop them."""
    deadline = time.monotonic() + timeout
    while True:
        zerocopy.release()
        if zerocopy.held() == 0:
            return
        assert time.monotonic() < deadline, f"{zerocopy.held()} buffers still held"
        time.sleep(0.01)


def test_sends_one_whole_message_copied_and_shared(impl, tcp_pair):
    a, b = tcp_pair
    big = np.arange(MiB // 8, dtype=np.int64)
    parts = [b"ident", memoryview(b"header"), bytearray(b"content"), big, b""]
    impl.zerocopy.send(a, parts, THRESHOLD)
    got = b.recv_multipart()
    assert got == [b"ident", b"header", b"content", big.tobytes(), b""]
    assert not b.poll(20)


def test_copy_everything_with_a_threshold_above_every_frame(impl, tcp_pair):
    a, b = tcp_pair
    buf = bytearray(b"x" * MiB)
    impl.zerocopy.send(a, [b"h", buf], sys.maxsize)
    buf[:1] = b"y"  # copied at send: the change is not seen
    assert impl.zerocopy.held() == 0
    assert b.recv_multipart() == [b"h", b"x" * MiB]


@pytest.mark.parametrize(
    "bad, error",
    [
        (["a str"], TypeError),
        ([b"header", object()], TypeError),
        ([b"header", memoryview(b"abcdefgh")[::2]], BufferError),
        ([], ValueError),
    ],
)
def test_bad_parts_send_nothing(impl, tcp_pair, bad, error):
    a, b = tcp_pair
    with pytest.raises(error):
        impl.zerocopy.send(a, [b"first", *bad] if bad else bad, THRESHOLD)
    assert not b.poll(50), "a part of a refused message was sent"
    impl.zerocopy.send(a, [b"next", b"message"], THRESHOLD)  # the socket is still usable
    assert b.recv_multipart() == [b"next", b"message"]


def test_a_closed_socket_is_refused(impl):
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUB)
    s.close()
    with pytest.raises(zmq.ZMQError) as e:
        impl.zerocopy.send(s, [b"x", b"y" * MiB], THRESHOLD)
    assert e.value.errno == zmq.ENOTSOCK
    ctx.term()


def test_shared_buffers_are_released_and_not_leaked(impl, tcp_pair):
    a, b = tcp_pair
    buf = bytes(MiB)
    before = sys.getrefcount(buf)
    for i in range(50):
        impl.zerocopy.send(a, [b"%d" % i, buf], THRESHOLD)
    for i in range(50):
        frames = b.recv_multipart(copy=False)
        assert frames[0].bytes == b"%d" % i
        assert len(frames[1]) == MiB
    _release_all(impl.zerocopy)
    gc.collect()
    deadline = time.monotonic() + 10  # the twin's releases happen on pyzmq's thread
    while sys.getrefcount(buf) != before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sys.getrefcount(buf) == before


def test_a_shared_buffer_is_pinned_until_released(impl, tcp_pair):
    if impl.name != "compiled":
        pytest.skip("pyzmq's Frames do not keep the buffer exported")
    a, b = tcp_pair
    buf = bytearray(MiB)
    impl.zerocopy.send(a, [b"h", buf], THRESHOLD)
    assert impl.zerocopy.held() >= 1
    b.recv_multipart()
    # until it is released, the buffer stays exported: it cannot move under ZeroMQ
    with pytest.raises(BufferError):
        buf.extend(b"more")
    _release_all(impl.zerocopy)
    buf.extend(b"more")


def test_frames_dropped_by_a_pub_socket_are_released(impl):
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)  # no subscriber: every message dropped at once
    pub.bind("tcp://127.0.0.1:*")
    buf = bytes(MiB)
    before = sys.getrefcount(buf)
    for _ in range(20):
        impl.zerocopy.send(pub, [b"topic", buf], THRESHOLD)
    _release_all(impl.zerocopy)
    deadline = time.monotonic() + 10
    while sys.getrefcount(buf) != before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sys.getrefcount(buf) == before
    pub.close()
    ctx.term()


def test_threads_sending_under_a_lock_keep_every_message_whole(impl):
    ctx = zmq.Context()
    push, pull = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
    pull.rcvhwm = push.sndhwm = 0
    push.bind("tcp://127.0.0.1:*")
    pull.connect(push.last_endpoint)
    lock = threading.Lock()
    bufs = [bytes([t]) * (THRESHOLD + t) for t in range(4)]
    count = 200

    def sender(t):
        for i in range(count):
            with lock:  # as the kernel's publisher: one sender at a time
                impl.zerocopy.send(push, [b"%d" % t, b"%d" % i, bufs[t]], THRESHOLD)
                impl.zerocopy.release()

    threads = [threading.Thread(target=sender, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    seen = {t: 0 for t in range(4)}
    for _ in range(4 * count):
        t_b, i_b, payload = pull.recv_multipart()
        t = int(t_b)
        assert int(i_b) == seen[t]  # each thread's messages in its order
        assert payload == bufs[t]
        seen[t] += 1
    for th in threads:
        th.join()
    _release_all(impl.zerocopy)
    push.close()
    pull.close()
    ctx.term()
