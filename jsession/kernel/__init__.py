"""jsession for Jupyter kernels and clients (the ``kernel`` extra: jupyter_client, ipykernel).

- ``Session``: a jsession Session that jupyter_client and ipykernel accept as theirs.
- ``KernelManager``, ``AsyncKernelManager``, ``BlockingKernelClient``, ``AsyncKernelClient``:
  jupyter_client's classes with a jsession Session by default.
- ``KernelApp``: ipykernel's ``IPKernelApp`` on a jsession Session
  (``python -m jsession.kernel -f CONNECTION_FILE``).
- ``install``: the "Python 3 (jsession)" kernelspec (``python -m jsession.kernel install``).

The core ``jsession`` package never imports this one, nor jupyter_client or ipykernel.
ipykernel (and IPython with it) is imported only for ``KernelApp`` and by ``install``
when it runs, so clients need only jupyter_client.
"""

from __future__ import annotations

import typing as t

from .client import AsyncKernelClient, AsyncKernelManager, BlockingKernelClient, KernelManager
from .kernelspec import install
from .session import Session

__all__ = [
    "AsyncKernelClient",
    "AsyncKernelManager",
    "BlockingKernelClient",
    "KernelApp",
    "KernelManager",
    "Session",
    "install",
]


def __getattr__(name: str) -> t.Any:
    # ipykernel (and IPython with it) is loaded only when the kernel side is asked for
    if name == "KernelApp":
        from .app import KernelApp

        return KernelApp
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
