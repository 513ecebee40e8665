"""jsession: the Jupyter messaging layer, fast.

A drop-in replacement for ``jupyter_client.session`` (with ``jsonutil`` and ``adapter``):
the same API and the same bytes on the wire, with a compiled core for signing, frame
handling and header dates.

``IMPLEMENTATION`` is "compiled" when the Cython core is in use and "python" when the
pure-Python fallback is (no compiled build, or ``JSESSION_PURE_PYTHON=1``).

``install()`` puts every user of ``jupyter_client.session`` in this process on jsession
(``python -m jsession run CMD`` does it for CMD and every Python process beneath it);
``installed()`` says whether it is on.
"""

from ._backend import IMPLEMENTATION
from ._version import __version__, protocol_version, protocol_version_info
from .session import (
    DELIM,
    Message,
    Session,
    SessionFactory,
    extract_header,
    msg_header,
    new_id,
    new_id_bytes,
    utcnow,
)
from .switch import install, installed

__all__ = [
    "DELIM",
    "IMPLEMENTATION",
    "Message",
    "Session",
    "SessionFactory",
    "__version__",
    "extract_header",
    "install",
    "installed",
    "msg_header",
    "new_id",
    "new_id_bytes",
    "protocol_version",
    "protocol_version_info",
    "utcnow",
]
