"""The kernel's IOPub path: every thread sends straight to the PUB socket, under one lock.

ipykernel's ``IOPubThread`` hands every message to its IO thread: the sender appends a
callback to a queue and sends a wake-up frame on an inproc socket, and the IO thread does
the real send, so the two threads pass the GIL back and forth on every message. Here the
sending thread does the send itself, holding the publisher's lock for the few microseconds
ZeroMQ takes to queue the frames (a PUB socket never blocks: it queues, or drops at the
high-water mark). The IO thread stays for what needs a loop: the output streams' flush
timers, messages piped from forked children, and XPUB subscription events.

Guarantees, as with ipykernel:

- one thread's messages reach the socket in the order it sent them (the lock orders the
  sends; nothing is queued behind it);
- output a thread printed before it sent a message goes out before that message: any
  pending stream output is flushed before a message is sent (ipykernel flushes it only
  before a display, a reply and idle; here before anything);
- a stream's output is taken from its buffer and sent under the same lock, so two
  flushes of one stream (a timer on the IO thread, ``flush()`` elsewhere) cannot swap;
- a message is whole on the wire: with the compiled core, the frames of one message are
  handed to libzmq by one compiled loop (``jsession._c.zerocopy``) with the GIL released
  and no Python code, so no signal handler, between them; a KeyboardInterrupt is raised
  after the last frame (with the pure-Python core, pyzmq's sends, SIGINT is blocked during
  the send);
- large frames (``COPY_THRESHOLD``) are shared with ZeroMQ, not copied; with the compiled
  core, ZeroMQ's release of one only links it into a list (no wake-up of pyzmq's
  garbage-collector thread, no GIL hand-off per buffer), and the references are dropped
  by the next send or by the IO thread within ``SUBSCRIPTION_POLL``;
- forked and ``multiprocessing`` children pipe their messages to the parent, which
  publishes them (ipykernel's mechanism, unchanged); file-descriptor capture is
  ipykernel's;
- ``stop()`` flushes the streams first, and the socket keeps its linger (1 s, as
  ipykernel sets it) to deliver what is queued when it closes.

ZeroMQ's high-water mark applies as with ipykernel: the socket keeps its default
SNDHWM (1000 messages per subscriber); a subscriber that falls further behind than that
(plus what the OS socket buffers and its own RCVHWM hold) loses messages, silently, as
PUB sockets do. A faster publisher reaches that mark sooner than ipykernel's, whose IO
thread limits its rate.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
import typing as t
import weakref
from time import monotonic as _monotonic

import zmq
from ipykernel import iostream
from tornado.ioloop import IOLoop, PeriodicCallback

from .. import _backend
from .._py import zerocopy as _pyzerocopy
from ..session import ZERO_COPY_MIN

__all__ = ["IOPubThread", "OutStream"]

_pid = os.getpid()


def _note_fork() -> None:
    global _pid
    _pid = os.getpid()


# the pid, kept without a system call per message
os.register_at_fork(after_in_child=_note_fork)

_get = zmq.backend.Socket.get  # ints, not the sugar's enums (a Python-level & per send)
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)
_SIGINT = {signal.SIGINT}
# frames from this size on are sent without a copy: the crossover Session.send uses
COPY_THRESHOLD = ZERO_COPY_MIN
_NEVER = sys.maxsize  # send(copy=True): every frame copied
# seconds between reads of the socket's events by senders (a read costs libzmq a mutex and
# a getpid(); a send may take the FD notification of a subscription that arrived meanwhile)
SUBSCRIPTION_CHECK = 0.005
# the IO thread's own reads, for subscriptions whose notification a send took while no
# further sends came (the longest an iopub_welcome can wait), and its release of buffers
# ZeroMQ has let go of while nothing was sent (the longest one outlives its send)
SUBSCRIPTION_POLL = 0.1


def _zero_copy(part: t.Any) -> t.Any:
    """part, as a zmq.Frame sharing its memory if it is large enough to be worth it."""
    if isinstance(part, zmq.Frame):
        return part
    nbytes = len(part) if type(part) is bytes else memoryview(part).nbytes
    return part if nbytes < COPY_THRESHOLD else zmq.Frame(part, copy=False)


class IOPubThread(iostream.IOPubThread):
    """ipykernel's ``IOPubThread``, minus the hop: ``send_multipart`` sends at once from
    the calling thread. ``schedule`` still runs a callable on the IO thread."""

    def __init__(self, socket: t.Any, pipe: bool = False, session: t.Any = False) -> None:
        self._lock = threading.RLock()
        self._streams: weakref.WeakSet[OutStream] = weakref.WeakSet()
        self._dirty = False  # some stream has output not yet sent
        self._flushing = False  # the lock's holder is sending a stream's output
        self._xpub = False
        self._checked = 0.0  # when the socket's events were last read
        self._main_ident = threading.main_thread().ident
        super().__init__(socket, pipe=pipe, session=session)

    # -- processes ----------------------------------------------------------------

    def _is_master_process(self) -> bool:
        return _pid == self._master_pid

    # -- XPUB subscriptions: read by whoever holds the lock -----------------------

    def _setup_xpub_listener(self) -> None:
        if not hasattr(self.socket, "getsockopt"):
            return
        if self.socket.getsockopt(zmq.TYPE) == zmq.XPUB:
            self._xpub = True
            # not a ZMQStream: that would use the socket from the IO thread unlocked
            self.io_loop.add_handler(self.socket, self._on_socket_events, IOLoop.READ)

    def _on_socket_events(self, fd: t.Any = None, events: t.Any = None) -> None:
        with self._lock:
            self._read_subscriptions()

    def _read_subscriptions(self) -> None:
        """Handle every waiting (un)subscription, on the IO thread with the lock held."""
        sock = self.socket
        if sock is None or sock.closed:
            return
        try:
            while t.cast(int, _get(sock, _EVENTS)) & _POLLIN:
                self._handle_subscription(sock.recv_multipart(zmq.NOBLOCK))
        except zmq.ZMQError as e:
            if e.errno not in (errno.EAGAIN, zmq.ENOTSOCK):
                raise

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        super().start()
        # subscriptions that arrived before the loop watched the socket, those whose FD
        # notification a sender consumed, and shared buffers ZeroMQ let go of while no
        # message was sent (each send releases those first). add_callback, not schedule:
        # schedule would give the calling thread an event pipe of its own for this one call
        self.io_loop.add_callback(self._start_polling)

    def _start_polling(self) -> None:
        self._poller = PeriodicCallback(self._poll, SUBSCRIPTION_POLL * 1000)
        self._poller.start()
        self._poll()

    def _poll(self) -> None:
        _backend.active.zerocopy.release()
        if self._xpub:
            self._on_socket_events()

    def stop(self) -> None:
        """Flush the streams, then stop the IO thread (messages already sent stay queued
        in ZeroMQ; ``close`` delivers them within the socket's linger)."""
        if self._is_master_process():
            self.flush_streams()
        if self.thread.is_alive():
            # the loop closes the fds it watches when it ends; the socket is ours to close
            self.io_loop.add_callback(self._stop_watching)
        super().stop()

    def _stop_watching(self) -> None:
        poller = getattr(self, "_poller", None)
        if poller is not None:
            poller.stop()
        if self._xpub:
            self.io_loop.remove_handler(self.socket)

    def close(self) -> None:
        with self._lock:
            super().close()

    # -- streams ------------------------------------------------------------------

    def _register_stream(self, stream: OutStream) -> None:
        self._streams.add(stream)

    def flush_streams(self) -> None:
        """Send every registered stream's pending output."""
        with self._lock:
            self._dirty = False
            for stream in list(self._streams):
                if stream._buffers:
                    stream._flush()

    # -- sending ------------------------------------------------------------------

    def send_multipart(self, msg_parts: t.Any, flags: int = 0, copy: bool = True, **kwargs: t.Any) -> None:
        """Send one message now, from this thread (forked children pipe it to the parent).

        With ``copy=False`` the frames of at least ``COPY_THRESHOLD`` bytes (256 KiB,
        ``jsession.session.ZERO_COPY_MIN``) are sent without a copy, the others copied.
        """
        if _pid != self._master_pid:
            return self._really_send(msg_parts, flags, copy=copy, **kwargs)
        with self._lock:
            sock = self.socket
            if sock is None:
                return None  # closed at shutdown, as ipykernel's send does then
            if self._dirty and not self._flushing:
                self.flush_streams()  # what was printed before goes first
            if not isinstance(sock, zmq.Socket):  # a socket-like object
                if not copy:
                    msg_parts = [_zero_copy(part) for part in msg_parts]
                sock.send_multipart(msg_parts, flags, copy=copy, **kwargs)
            else:
                sender = _backend.active.zerocopy
                if not sender.available():
                    sender = _pyzerocopy  # libzmq's functions not found: pyzmq's Frames
                threshold = COPY_THRESHOLD if not copy else _NEVER
                if sender is not _pyzerocopy or threading.get_ident() != self._main_ident:
                    sender.send(sock, msg_parts, threshold)
                else:
                    # the pure-Python loop can be interrupted between frames: not by SIGINT
                    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGINT)
                    try:
                        sender.send(sock, msg_parts, threshold)
                    finally:
                        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGINT)
            if self._xpub:
                now = _monotonic()
                if now - self._checked >= SUBSCRIPTION_CHECK:
                    self._checked = now
                    if t.cast(int, _get(sock, _EVENTS)) & _POLLIN:
                        # read by the IO thread, which sends the welcome: no signal
                        # handler runs there to cut that message
                        self.schedule(self._on_socket_events)
        return None


class OutStream(iostream.OutStream):
    """ipykernel's ``OutStream`` on the direct path: ``flush()`` sends from the calling
    thread instead of waiting for the IO thread, and a flush takes the buffer and sends it
    under the publisher's lock. The IO thread only runs the flush timer."""

    def __init__(self, session: t.Any, pub_thread: t.Any, name: str, *args: t.Any, **kwargs: t.Any) -> None:
        self._timer_pending = False
        super().__init__(session, pub_thread, name, *args, **kwargs)
        self._direct = isinstance(self.pub_thread, IOPubThread)
        if self._direct:
            self.pub_thread._register_stream(self)

    def _schedule_flush(self) -> None:
        if self._direct:
            self.pub_thread._dirty = True
        if self._timer_pending:
            return
        self._timer_pending = True

        def _in_thread() -> None:
            self._io_loop.call_later(self.flush_interval, self._timed_flush)

        self.pub_thread.schedule(_in_thread)

    def _timed_flush(self) -> None:
        self._timer_pending = False
        self._flush()

    def flush(self) -> None:
        if not self._direct or self.pub_thread is None:
            return super().flush()
        if self._buffers:
            self._flush()
        elif self.echo is not None:
            # nothing to publish (the kernel flushes both streams around every request)
            try:
                self.echo.flush()
            except OSError as e:
                if self.echo is not sys.__stderr__:
                    print(f"Flush failed: {e}", file=sys.__stderr__)
        return None

    def _flush(self) -> None:
        pub = self.pub_thread
        if not self._direct or pub is None or not pub._is_master_process():
            return super()._flush()  # a forked child: no lock inherited mid-use
        with pub._lock:
            flushing, pub._flushing = pub._flushing, True
            try:
                super()._flush()
            finally:
                pub._flushing = flushing
        return None
