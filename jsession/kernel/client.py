"""jupyter_client's kernel managers and clients, on jsession Sessions by default.

Equivalent to handing a ``jsession.kernel.Session`` to the stock classes
(``KernelManager(session=Session())``); here it is the default. A manager's clients get
a clone of its session (``get_connection_info(session=True)``), and loading a connection
file sets the session's key and signature_scheme, exactly as with the stock classes.
"""

from __future__ import annotations

import jupyter_client
from traitlets import DottedObjectName, default

from .session import Session

__all__ = ["AsyncKernelClient", "AsyncKernelManager", "BlockingKernelClient", "KernelManager"]


class BlockingKernelClient(jupyter_client.BlockingKernelClient):
    """jupyter_client's blocking client; its session is a jsession Session."""

    @default("session")
    def _jsession_session(self) -> Session:
        return Session(parent=self)


class AsyncKernelClient(jupyter_client.AsyncKernelClient):
    """jupyter_client's asyncio client; its session is a jsession Session."""

    @default("session")
    def _jsession_session(self) -> Session:
        return Session(parent=self)


class KernelManager(jupyter_client.KernelManager):
    """jupyter_client's kernel manager; it and its clients use jsession Sessions."""

    client_class = DottedObjectName("jsession.kernel.BlockingKernelClient")

    @default("session")
    def _jsession_session(self) -> Session:
        return Session(parent=self)


class AsyncKernelManager(jupyter_client.AsyncKernelManager):
    """jupyter_client's asyncio kernel manager; it and its clients use jsession Sessions."""

    client_class = DottedObjectName("jsession.kernel.AsyncKernelClient")

    @default("session")
    def _jsession_session(self) -> Session:
        return Session(parent=self)
