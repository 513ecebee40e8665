"""ipykernel's kernel application, running on a jsession Session.

``IPKernelApp`` gets its session from jupyter_client's ``ConnectionFileMixin``, which
makes one on first use (when the connection file is loaded, after the configuration).
``KernelApp`` overrides only that default. Everything in the kernel receives the app's
session from there: the kernel (shell, control and stdin channels, comms), the IOPub
thread, the stdout/stderr streams, the display hook and the display publisher.

Configuration is unchanged: jsession's Session reads the same "Session" section (key,
signature_scheme, packer... from the connection file, config files or the command line).
"""

from __future__ import annotations

import logging
import sys
import typing as t
from pathlib import Path

import zmq
from ipykernel.kernelapp import IPKernelApp
from traitlets import DottedObjectName, Integer, default

from .iopub import IOPubThread
from .session import Session

__all__ = ["KernelApp", "main"]


class KernelApp(IPKernelApp):
    """An ipykernel ``IPKernelApp`` whose every message goes through a jsession Session."""

    # ipykernel's "install" would install a spec for ipykernel_launcher, not this app
    subcommands: dict[str, t.Any] = {}

    outstream_class = DottedObjectName(
        "jsession.kernel.iopub.OutStream",
        config=True,
        help="The importstring for the OutStream factory (jsession's flushes without a thread hop)",
    )

    iopub_sndhwm = Integer(
        1000,
        config=True,
        help="ZeroMQ's send high-water mark of the IOPub socket, in messages per subscriber: "
        "a subscriber further behind loses messages, silently (PUB sockets drop rather than "
        "block). 1000 is libzmq's default, which ipykernel keeps; 0 means no limit (nothing "
        "dropped, memory unbounded while a subscriber lags).",
    )

    @default("session")
    def _jsession_session(self) -> Session:
        return Session(parent=self)

    def initialize(self, argv: t.Any = None) -> None:
        super().initialize(argv)
        # traitlets leaves the app's logger at DEBUG and filters in its handlers: every
        # log.debug() ipykernel makes per message builds a record only to drop it
        handlers = self.log.handlers if isinstance(self.log, logging.Logger) else []
        if handlers:
            self.log.setLevel(min(h.level for h in handlers) or logging.DEBUG)

    def init_iopub(self, context: zmq.Context[t.Any]) -> None:
        """The IOPub socket, as ipykernel makes it (XPUB, 1 s linger), published on by
        jsession's ``IOPubThread``: every thread sends directly (see ``jsession.kernel.iopub``)."""
        socket = context.socket(zmq.XPUB)
        socket.linger = 1000
        socket.sndhwm = self.iopub_sndhwm
        self._apply_curve_server_options(socket)
        self.iopub_port = self._bind_socket(socket, self.iopub_port)
        self.log.debug("iopub PUB Channel on port: %i", self.iopub_port)
        self.configure_tornado_logger()
        self.iopub_thread = IOPubThread(socket, pipe=True, session=self.session)
        self.iopub_thread.start()
        # what ipykernel's kernel, display hook and publisher send on (a BackgroundSocket)
        self.iopub_socket = self.iopub_thread.background_socket


def main(argv: list[str] | None = None) -> None:
    """Run the kernel: ``argv`` are ipykernel's options (``-f CONNECTION_FILE`` ...)."""
    # As ipykernel_launcher does: keep the working directory off sys.path while the kernel
    # starts (a local file could shadow a module it imports); the shell puts it back.
    if sys.path and (sys.path[0] == "" or Path(sys.path[0]) == Path.cwd()):
        del sys.path[0]
    KernelApp.launch_instance(argv)
