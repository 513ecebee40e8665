"""jsession's Session, accepted wherever jupyter_client demands its own.

jupyter_client and ipykernel declare their session traits as
``Instance("jupyter_client.session.Session")``. The Session here subclasses both
jsession's Session and jupyter_client's, with jsession's first in the MRO: it passes those
checks, while every method, trait, default and observer that runs is jsession's
(jsession's Session defines every name jupyter_client's does, so none of the reference's
falls through). Only the reference's constructor is skipped, as jsession's does its work.
"""

from __future__ import annotations

import typing as t

import jupyter_client.session as reference
from traitlets.config import Configurable

from .. import session as core

__all__ = ["Session"]


class _ReferenceWithoutInit(reference.Session):
    """jupyter_client's Session for the MRO, minus its ``__init__``: jsession's
    ``__init__`` already checks the packers, keys the signer and warns about a missing
    key; running both would do all of that twice."""

    def __init__(self, **kwargs: t.Any) -> None:
        Configurable.__init__(self, **kwargs)


# mypy sees the two bases' clone() return types differ; here clone() returns this class,
# an instance of both
class Session(core.Session, _ReferenceWithoutInit):  # type: ignore[misc]
    """A jsession Session that is also a ``jupyter_client.session.Session``.

    Same traits, same configuration section ("Session") and same behaviour as
    ``jsession.session.Session``; give it to ``KernelManager``, ``BlockingKernelClient``,
    ``IPKernelApp`` or anything else that asks for a jupyter_client Session.
    """
