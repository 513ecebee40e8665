"""The Jupyter message session: build, pack, sign, send and receive messages.

``Session`` speaks the same API as ``jupyter_client.session.Session`` (8.10) and puts the
same bytes on the wire. What differs is underneath: signing, delimiter search and header
dates run in the compiled core (``jsession._c``, or its pure-Python twin ``jsession._py``),
and the per-message paths read plain attributes kept in step with the traits by observers,
never traitlets descriptors.

Also here: ``Message`` (attribute access to a message dict), ``SessionFactory`` (a base
for configurables that own a Session) and the packers and helpers of the reference module.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
import json
import logging
import os
import pickle
import pprint
import random  # noqa: F401  (part of the reference module's namespace)
import sys
import typing as t
import warnings
import weakref
from binascii import b2a_hex
from datetime import datetime, timezone
from hmac import compare_digest  # noqa: F401  (part of the reference module's namespace)

import zmq
import zmq.asyncio
from traitlets import (
    Any,
    Bool,
    Callable,
    CBytes,
    CUnicode,
    Dict,
    DottedObjectName,
    Instance,
    Integer,
    Set,  # noqa: F401  (part of the reference module's namespace)
    TraitError,
    TraitType,
    Unicode,
    default,
    observe,
)
from traitlets.config.configurable import Configurable, LoggingConfigurable
from traitlets.log import get_logger
from traitlets.utils.importstring import import_item

from . import _backend
from ._version import protocol_version
from .adapter import adapt
from .jsonutil import extract_dates, json_clean, json_default, parse_date, squash_dates  # noqa: F401

__all__ = [
    "DELIM",
    "DONE",
    "Message",
    "Session",
    "SessionFactory",
    "default_secure",
    "extract_header",
    "json_packer",
    "json_unpacker",
    "msg_header",
    "new_id",
    "new_id_bytes",
    "orjson_packer",
    "orjson_unpacker",
    "pickle_packer",
    "pickle_unpacker",
    "session_aliases",
    "session_flags",
    "squash_unicode",
    "utcnow",
]

PICKLE_PROTOCOL = pickle.DEFAULT_PROTOCOL

utc = timezone.utc

#: Default thresholds for buffer extraction (kept for API compatibility).
MAX_ITEMS = 64
MAX_BYTES = 1024

# This process's id, kept current across os.fork by a hook rather than asked of the
# kernel for every message id and every send (a system call each time).
_pid = os.getpid()


def _update_pid() -> None:
    global _pid
    _pid = os.getpid()
    for builder in list(_builders):
        builder.pid = _pid
        reset = getattr(builder, "reset_after_fork", None)  # the twin's lock
        if reset is not None:
            reset()


# every Session's MessageBuilder, so that a forked child's message ids carry its own pid
_builders: weakref.WeakSet = weakref.WeakSet()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_update_pid)

#: The frame separating routing identities from the signed message.
DELIM = b"<IDS|MSG>"

#: A tracker that is always done: returned when nothing needs tracking.
DONE = zmq.MessageTracker()

#: ``copy_threshold``'s default, as in jupyter_client.
DEFAULT_COPY_THRESHOLD = 2**16

#: While ``copy_threshold`` has its default, frames of at least this size are sent without a
#: copy (any other value is used as given). Measured by ``python -m jsession.bench
#: --crossover`` (send+recv of one frame over ipc, five runs on 2 cores, zero copy time over
#: copy time, one message at a time / 16 in flight): 1.06-1.39 / 0.97-1.28 at 64 KiB,
#: 1.00-1.20 / 0.95-1.21 at 128 KiB, 0.92-1.20 / 0.59-1.35 at 256 KiB, 0.36-0.42 / 0.36-0.77
#: at 512 KiB; tcp alike. Below 256 KiB a copy is as cheap or cheaper (zero copy costs a
#: Frame, a free callback and pyzmq's garbage-collector thread); at 256 KiB it is a toss-up,
#: and zero copy also saves the copy's memory.
ZERO_COPY_MIN = 2**18

#: Identity frames larger than this come back from ``feed_identities(copy=False)`` as
#: memoryviews of the received frame instead of bytes copies (ZeroMQ routing ids are at
#: most 255 bytes, so only a malformed or hostile message has larger ones).
IDENT_COPY_LIMIT = 2**16

#: A signature longer than this is rejected without being stored in the replay history
#: or echoed whole in the error message (a sha512 hex digest is 128 bytes).
MAX_SIGNATURE_SIZE = 1024


MAX_DEPTH_MESSAGE = "message nested too deeply to unpack"


def __getattr__(name: str) -> t.Any:
    # tornado is only needed for ZMQStream and SessionFactory.loop: import it on demand
    if name == "IOLoop":
        from tornado.ioloop import IOLoop

        return IOLoop
    if name == "ZMQStream":
        from zmq.eventloop.zmqstream import ZMQStream

        return ZMQStream
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _is_zmqstream(obj: t.Any) -> bool:
    """Whether obj is a ZMQStream (without importing tornado: no stream exists unless
    its module is loaded)."""
    module = sys.modules.get("zmq.eventloop.zmqstream")
    return module is not None and isinstance(obj, module.ZMQStream)


# -----------------------------------------------------------------------------
# packers
# -----------------------------------------------------------------------------


def squash_unicode(obj: t.Any) -> t.Any:
    """Encode every str in a nested dict/list structure (keys included) to UTF-8 bytes."""
    if isinstance(obj, dict):
        for key in list(obj):
            obj[key] = squash_unicode(obj[key])
            if isinstance(key, str):
                obj[squash_unicode(key)] = obj.pop(key)
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            obj[i] = squash_unicode(item)
    elif isinstance(obj, str):
        obj = obj.encode("utf8")
    return obj


def _json_dumps(obj: t.Any) -> bytes:
    text = json.dumps(obj, default=json_default, ensure_ascii=False, allow_nan=False)
    return text.encode("utf8", errors="surrogateescape")


def json_packer(obj: t.Any) -> bytes:
    """Pack an object to UTF-8 JSON bytes (dates as ISO 8601, no NaN)."""
    try:
        return _json_dumps(obj)
    except (TypeError, ValueError) as e:
        # not JSON as given: clean it, pack that, and tell the caller
        packed = _json_dumps(json_clean(obj))
        warnings.warn(
            f"Message serialization failed with:\n{e}\n"
            "Supporting this message is deprecated in jupyter-client 7, please make "
            "sure your message is JSON-compliant",
            stacklevel=2,
        )
        return packed


def json_unpacker(s: str | bytes) -> t.Any:
    """Unpack JSON from str or UTF-8 bytes (undecodable bytes become U+FFFD)."""
    if isinstance(s, (bytes, memoryview)):
        s = str(s, "utf8", "replace")
    return json.loads(s)


try:
    import orjson
except ModuleNotFoundError:
    has_orjson = False
    orjson_packer, orjson_unpacker = json_packer, json_unpacker
else:
    has_orjson = True
    _orjson_dumps = orjson.dumps
    _ORJSON_OPTION = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z

    def orjson_packer(obj: t.Any, *, option: int | None = _ORJSON_OPTION) -> bytes:
        """Pack with orjson; anything orjson refuses goes through ``json_packer``."""
        try:
            return orjson.dumps(obj, default=json_default, option=option)
        except Exception:
            return json_packer(obj)

    def orjson_unpacker(s: str | bytes) -> t.Any:
        """Unpack with orjson; anything orjson refuses goes through ``json_unpacker``."""
        try:
            return orjson.loads(s)
        except Exception:
            return json_unpacker(s)


try:
    import msgpack
except ModuleNotFoundError:
    has_msgpack = False
else:
    has_msgpack = True
    msgpack_packer = functools.partial(msgpack.packb, default=json_default)
    msgpack_unpacker = msgpack.unpackb


def pickle_packer(o: t.Any) -> bytes:
    """Pickle an object, dates squashed to ISO 8601 strings first."""
    return pickle.dumps(squash_dates(o), PICKLE_PROTOCOL)


pickle_unpacker = pickle.loads

# packer name -> (pack, unpack); a name missing here is an import string
_KNOWN_PACKERS: dict[str, tuple[t.Callable, t.Callable]] = {
    "json": (json_packer, json_unpacker),
    "orjson": (orjson_packer, orjson_unpacker),
    "pickle": (pickle_packer, pickle_unpacker),
}
if has_msgpack:
    _KNOWN_PACKERS["msgpack"] = (msgpack_packer, msgpack_unpacker)

# serialize calls orjson.dumps itself when this is the packer
_INLINE_ORJSON_PACKER = orjson_packer if has_orjson else None

# unpackers that read any buffer, so received frames can be handed over without a copy
_BUFFER_UNPACKERS = {unpack for _, unpack in _KNOWN_PACKERS.values()}

# unpackers whose first try, on the compiled core, is its JSON decoder (``decoding.loads``,
# which reads only what both read alike): deserialize calls that directly, and goes through
# the unpacker itself (and its fallback) only when it raises
_JSON_UNPACKERS = (json_unpacker, orjson_unpacker)


def _first_try(unpack: t.Callable[[t.Any], t.Any]) -> t.Callable[[t.Any], t.Any]:
    """What deserialize calls before the unpacker: the compiled decoder for the json and
    orjson unpackers; on the pure-Python core, orjson.loads for the orjson unpacker (its own
    first step; the pure decoder is slower than orjson); else the unpacker itself."""
    if _backend.active.name == "compiled" and unpack in _JSON_UNPACKERS:
        return _backend.active.decoding.loads
    if has_orjson and unpack is orjson_unpacker:
        return orjson.loads
    return unpack


# -----------------------------------------------------------------------------
# ids, headers, configuration helpers
# -----------------------------------------------------------------------------


def new_id() -> str:
    """A new random id: 16 random bytes as hex, in two dash-separated groups (8-24)."""
    raw = os.urandom(16)
    return b2a_hex(raw[:4]).decode("ascii") + "-" + b2a_hex(raw[4:]).decode("ascii")


def new_id_bytes() -> bytes:
    """``new_id()`` as ASCII bytes."""
    return new_id().encode("ascii")


session_aliases = {
    "ident": "Session.session",
    "user": "Session.username",
    "keyfile": "Session.keyfile",
}

session_flags = {
    "secure": (
        {"Session": {"key": new_id_bytes(), "keyfile": ""}},
        """Sign messages with HMAC, using a freshly generated random key.""",
    ),
    "no-secure": (
        {"Session": {"key": b"", "keyfile": ""}},
        """Do not sign or check messages.""",
    ),
}


def default_secure(cfg: t.Any) -> None:
    """Deprecated: give ``cfg`` a random Session.key unless it sets a key or keyfile."""
    warnings.warn("default_secure is deprecated", DeprecationWarning, stacklevel=2)
    if "Session" in cfg and ("key" in cfg.Session or "keyfile" in cfg.Session):
        return
    cfg.Session.key = new_id_bytes()


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(utc)


def msg_header(msg_id: str, msg_type: str, username: str, session: Session | str) -> dict[str, t.Any]:
    """A message header dict, dated now, for the current protocol version."""
    return {
        "msg_id": msg_id,
        "msg_type": msg_type,
        "username": username,
        "session": session,
        "date": utcnow(),
        "version": protocol_version,
    }


def extract_header(msg_or_header: dict[str, t.Any]) -> dict[str, t.Any]:
    """The header of a message, or the argument itself when it already is a header."""
    if not msg_or_header:
        return {}
    try:
        header = msg_or_header["header"]
    except KeyError:
        msg_or_header["msg_id"]  # neither a message nor a header: let KeyError out
        header = msg_or_header
    if not isinstance(header, dict):
        header = dict(header)
    return header


# -----------------------------------------------------------------------------
# classes
# -----------------------------------------------------------------------------


class SessionFactory(LoggingConfigurable):
    """Base class for configurables that own a Session, a zmq Context and an IOLoop."""

    logname = Unicode("")

    @observe("logname")
    def _logname_changed(self, change: t.Any) -> None:
        self.log = logging.getLogger(change["new"])

    context = Instance("zmq.Context")

    def _context_default(self) -> zmq.Context:
        return zmq.Context()

    session = Instance("jsession.session.Session", allow_none=True)

    loop = Instance("tornado.ioloop.IOLoop")

    def _loop_default(self) -> t.Any:
        from tornado.ioloop import IOLoop

        return IOLoop.current()

    def __init__(self, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        if self.session is None:
            self.session = Session(**kwargs)


class Message:
    """A message dict with attribute access; nested dicts become Messages too.

    ``dict(Message(d))`` gives the (top level) dict back.
    """

    def __init__(self, msg_dict: dict[str, t.Any]) -> None:
        attrs = self.__dict__
        for key, value in dict(msg_dict).items():
            attrs[key] = Message(value) if isinstance(value, dict) else value

    def __iter__(self) -> t.Iterator[tuple[str, t.Any]]:
        return iter(self.__dict__.items())

    def __repr__(self) -> str:
        return repr(self.__dict__)

    def __str__(self) -> str:
        return pprint.pformat(self.__dict__)

    def __contains__(self, k: object) -> bool:
        return k in self.__dict__

    def __getitem__(self, k: str) -> t.Any:
        return self.__dict__[k]


class _HMACSigner:
    """Signs with an ``hmac.HMAC`` object given by the caller (``session.auth = ...``)."""

    def __init__(self, auth: hmac.HMAC) -> None:
        self._auth = auth

    def sign(self, frames: t.Iterable[t.Any]) -> bytes:
        h = self._auth.copy()
        for frame in frames:
            h.update(frame)
        return h.hexdigest().encode()

    def verify(self, signature: t.Any, frames: t.Iterable[t.Any]) -> bool:
        return hmac.compare_digest(bytes(signature), self.sign(frames))


class _ReplayHistoryTrait(TraitType):
    """A Session's replay history: a ``ReplayHistory`` of the session's size. Any other
    set (or iterable) of signatures assigned to it is copied into a new one."""

    info_text = "a set of signatures"

    def validate(self, obj: t.Any, value: t.Any) -> t.Any:
        size = obj.digest_history_size
        if getattr(type(value), "is_replay_history", False):
            return value if value.size == size else type(value)(size, value)
        if isinstance(value, (str, bytes)) or not isinstance(value, t.Iterable):
            self.error(obj, value)
        return _backend.active.ReplayHistory(size, value)


# trait name -> the plain attribute the per-message paths read instead. Only immutable
# values are cached: traitlets does not notify when a container is replaced by an equal
# one, so the mutable ones (metadata, digest_history) are read from the trait's storage.
_CACHED_TRAITS = {
    "pack": "_pack",
    "unpack": "_unpack",
    "session": "_session_str",
    "username": "_username",
    "digest_history_size": "_digest_history_size",
    "check_pid": "_check_pid",
    "pid": "_pid",
    "copy_threshold": "_copy_threshold",
    "adapt_version": "_adapt_version",
    "debug": "_debug",
}


class Session(Configurable):
    """Builds, packs, signs, sends and receives Jupyter messages.

    Messages are dicts (see ``msg``); on the wire a message is a list of frames
    ``[*idents, DELIM, signature, header, parent_header, metadata, content, *buffers]``
    (see ``serialize`` and ``deserialize``). With a ``key``, every message is signed with
    HMAC (``signature_scheme``, default hmac-sha256) and every received message is checked,
    including against replays of a signature already seen.

    Parameters (all traits, all configurable)
    ----------
    key : bytes
        The HMAC key; empty turns signing off. Default: a random key.
    keyfile : str
        A file holding the key (surrounding whitespace stripped).
    signature_scheme : str
        ``hmac-<name>`` for any hash that ``hashlib`` offers.
    packer, unpacker : str
        'orjson' (the default when available), 'json', 'pickle', 'msgpack', or the import
        string of a callable.
    pack, unpack : callable
        The serialization functions themselves.
    session : str
        This session's id; default a new random id.
    username : str
        Put in every header; default ``$USER``.
    """

    debug = Bool(False, config=True, help="""Print every message sent and received.""")

    check_pid = Bool(
        True,
        config=True,
        help="""Refuse to send from a forked child process (a fork shares the parent's
        sockets). Turn off only when fork safety is handled elsewhere.""",
    )

    packer = DottedObjectName(
        "orjson" if has_orjson else "json",
        config=True,
        help="""How messages are packed: 'orjson', 'json', 'pickle', 'msgpack', or the
        import string of a callable taking a JSON-able object and returning bytes.""",
    )
    unpacker = DottedObjectName(
        "orjson" if has_orjson else "json",
        config=True,
        help="""How messages are unpacked: a known packer name or an import string.""",
    )
    pack = Callable(orjson_packer if has_orjson else json_packer)
    unpack = Callable(orjson_unpacker if has_orjson else json_unpacker)

    @observe("packer", "unpacker")
    def _packer_unpacker_changed(self, change: t.Any) -> None:
        new = change["new"]
        known = _KNOWN_PACKERS.get(new.lower())
        if known is None:
            which = "pack" if change["name"] == "packer" else "unpack"
            self.set_trait(which, import_item(str(new)))
            return
        self.pack, self.unpack = known
        self.packer = self.unpacker = new

    session = CUnicode("", config=True, help="""The id of this session.""")

    def _session_default(self) -> str:
        value = new_id()
        self.bsession = value.encode("ascii")
        return value

    @observe("session")
    def _session_changed(self, change: t.Any) -> None:
        self.bsession = self.session.encode("ascii")

    bsession = CBytes(b"")

    username = Unicode(
        os.environ.get("USER", "username"),
        help="""The user name put in message headers. Default: the system user name.""",
        config=True,
    )

    metadata = Dict(
        {},
        config=True,
        help="""Metadata copied into the metadata dict of every message built here.""",
    )

    adapt_version = Integer(0)

    key = CBytes(config=True, help="""The key that signs messages (HMAC); empty: no signing.""")

    def _key_default(self) -> bytes:
        return new_id_bytes()

    @observe("key")
    def _key_changed(self, change: t.Any) -> None:
        self._new_auth()

    signature_scheme = Unicode(
        "hmac-sha256",
        config=True,
        help="""How messages are signed: 'hmac-<hash>', for any hash hashlib offers.""",
    )

    @observe("signature_scheme")
    def _signature_scheme_changed(self, change: t.Any) -> None:
        scheme = change["new"]
        if not scheme.startswith("hmac-"):
            raise TraitError("signature_scheme must start with 'hmac-', got %r" % scheme)
        name = scheme.split("-", 1)[1]
        try:
            self.digest_mod = getattr(hashlib, name)
        except AttributeError as e:
            raise TraitError("hashlib has no such attribute: %s" % name) from e
        self._new_auth()

    digest_mod = Any()

    def _digest_mod_default(self) -> t.Callable:
        return hashlib.sha256

    auth = Instance(hmac.HMAC, allow_none=True)

    @observe("auth")
    def _auth_changed(self, change: t.Any) -> None:
        auth = change["new"]
        if auth is None:
            self._use_signer(None)
        elif auth is not self._auth_made:
            self._use_signer(_HMACSigner(auth))

    def _use_signer(self, signer: t.Any) -> None:
        self._signer = signer
        # sign() is the signer's own method while there is a key and no subclass signs its
        # own way: one C call instead of a Python frame around it
        if signer is not None and type(self).sign is Session.sign:
            self.__dict__["sign"] = signer.sign
        else:
            self.__dict__.pop("sign", None)

    def _new_auth(self) -> None:
        key = self.key
        if not key:
            self._auth_made = None
            self.auth = None
            self._use_signer(None)
            return
        digest_mod = self.digest_mod
        # hmac.HMAC validates the digest exactly as the reference does, and is kept as
        # .auth for callers that read it; signing itself goes through the compiled core
        self._auth_made = auth = hmac.HMAC(key, digestmod=digest_mod)
        self.auth = auth
        name = self.signature_scheme.partition("-")[2]  # the scheme may not be checked yet
        if getattr(hashlib, name, None) is digest_mod:
            self._use_signer(_backend.active.Signer(key, name))
        else:  # digest_mod was set directly: sign with exactly that
            self._use_signer(_HMACSigner(auth))

    digest_history = _ReplayHistoryTrait(
        help="""The signatures of messages accepted so far (set-like): a message whose
        signature is here is refused as a replay. Assigning a set replaces it."""
    )

    @default("digest_history")
    def _digest_history_default(self) -> t.Any:
        return _backend.active.ReplayHistory(self.digest_history_size)

    digest_history_size = Integer(
        2**16,
        config=True,
        help="""How many signatures to remember for replay protection; past this
        number, the oldest 10% are forgotten. 0 remembers none.""",
    )

    keyfile = Unicode("", config=True, help="""A file holding the key.""")

    @observe("keyfile")
    def _keyfile_changed(self, change: t.Any) -> None:
        path = change["new"]
        try:
            with open(path, "rb") as f:
                self.key = f.read().strip()
        except OSError as e:
            raise type(e)(e.errno, f"cannot read Session.keyfile: {e.strerror}", path) from None

    pid = Integer()

    copy_threshold = Integer(
        DEFAULT_COPY_THRESHOLD,
        config=True,
        help="""Frames of at least this many bytes are sent without a copy. Left at its
        default (65536, as jupyter_client's), frames from ZERO_COPY_MIN (256 KiB, where zero
        copy measured faster than a copy) are sent without a copy.""",
    )
    buffer_threshold = Integer(
        MAX_BYTES,
        config=True,
        help="""Threshold (bytes) above which an object's buffer is sent apart (kept
        for compatibility).""",
    )
    item_threshold = Integer(
        MAX_ITEMS,
        config=True,
        help="""The most items of a container introspected for custom serialization
        (kept for compatibility).""",
    )

    @observe(*_CACHED_TRAITS)
    def _cache_trait(self, change: t.Any) -> None:
        name, new = change["name"], change["new"]
        self.__dict__[_CACHED_TRAITS[name]] = new
        if name == "copy_threshold":
            self._zero_copy_from = _zero_copy_min(new)
        if name == "digest_history_size":
            history = self._trait_values.get("digest_history")
            if history is not None:
                history.size = new
        builder = self.__dict__.get("_builder")
        if builder is not None and name in ("session", "username"):
            setattr(builder, name, new)
        elif name == "unpack":
            self._set_unpack_paths(new)

    _auth_made: hmac.HMAC | None = None
    _signer: t.Any = None
    _parts_as: int  # how deserialize(copy=False) hands frames to the unpacker

    def _set_unpack_paths(self, unpack: t.Callable) -> None:
        self._loads = _first_try(unpack)
        # known unpackers read any buffer: frames in place; a custom one gets bytes
        self._parts_as = 1 if unpack in _BUFFER_UNPACKERS else 2
        # what deserialize reads, in one attribute: a thread never sees half of a change
        self._unpacking = (self._parts_as, self._loads, unpack)

    _builder: t.Any  # the MessageBuilder: header values as C fields
    _verified_message: t.Callable[..., dict[str, t.Any]]
    # plain copies of traits for the per-message paths (see _CACHED_TRAITS)
    _pack: t.Callable[[t.Any], bytes]
    _unpack: t.Callable[[t.Any], t.Any]
    _loads: t.Callable[[t.Any], t.Any]  # what deserialize tries first (see _JSON_UNPACKERS)
    _unpacking: tuple[int, t.Callable[[t.Any], t.Any], t.Callable[[t.Any], t.Any]]
    _session_str: str
    _username: str
    _digest_history_size: int
    _check_pid: bool
    _pid: int
    _copy_threshold: int
    _zero_copy_from: int  # _zero_copy_min(copy_threshold), kept with it
    _adapt_version: int
    _debug: bool

    def __init__(self, **kwargs: t.Any) -> None:
        """Create a Session; every trait can be given as a keyword argument."""
        super().__init__(**kwargs)
        self._check_packers()
        self.none = self.pack({})
        self.session  # noqa: B018  (creates the default id, and bsession with it)
        self.metadata, self.digest_history  # noqa: B018  (stores the defaults, read directly)
        self.pid = _pid
        for trait, attr in _CACHED_TRAITS.items():
            self.__dict__[attr] = getattr(self, trait)
        self._zero_copy_from = _zero_copy_min(self._copy_threshold)
        self._set_unpack_paths(self._unpack)
        self._builder = _backend.active.MessageBuilder(
            self._session_str, self._username, _pid, extract_header
        )
        _builders.add(self._builder)
        # the core's deserialize, bound once like the builder (the core active at creation)
        self._verified_message = _backend.active.messages.verified_message
        self._new_auth()
        if not self.key:
            get_logger().warning("Message signing is disabled.  This is insecure and not recommended!")

    def clone(self) -> Session:
        """A new Session with the same settings and its own copy of the replay history."""
        other = type(self)()
        for name in self.traits():
            setattr(other, name, getattr(self, name))
        other.digest_history = self._trait_values["digest_history"].copy()
        return other

    @property
    def message_count(self) -> int:
        """How many message ids this session has given out."""
        return self._builder.count

    @message_count.setter
    def message_count(self, value: int) -> None:
        self._builder.count = value

    @property
    def msg_id(self) -> str:
        """A new message id: ``{session}_{pid}_{counter}``."""
        return self._builder.next_id()  # one step: threads never share a counter value

    def _check_packers(self) -> None:
        """Check that pack/unpack round-trip a small message and whether dates survive."""
        pack, unpack = self.pack, self.unpack
        sample = {"a": [1, "hi"]}
        try:
            packed = pack(sample)
        except Exception as e:
            raise ValueError(f"packer '{self.packer}' could not serialize a simple message: {e}") from e
        if not isinstance(packed, bytes):
            raise ValueError("message packed to %r, but bytes are required" % type(packed))
        try:
            unpacked = unpack(packed)
            if unpacked != sample:
                raise AssertionError(f"{unpacked!r} != {sample!r}")
        except Exception as e:
            raise ValueError(
                f"unpacker {self.unpacker!r} could not handle output from packer {self.packer!r}: {e}"
            ) from e
        try:
            dated = unpack(pack({"t": utcnow()}))
            dates_ok = not isinstance(dated["t"], datetime)
        except Exception:
            dates_ok = False
        if not dates_ok:
            # this packer cannot take datetimes (or brings them back as such): give it strings
            self.pack = lambda o: pack(squash_dates(o))
            self.unpack = unpack

    def msg_header(self, msg_type: str) -> dict[str, t.Any]:
        """A new header for a message of this type from this session."""
        return msg_header(self.msg_id, msg_type, self._username, self._session_str)

    def __init_subclass__(cls, **kwargs: t.Any) -> None:
        super().__init_subclass__(**kwargs)
        # a subclass that builds headers its own way keeps getting them built its way
        cls._own_headers = cls.msg_header is Session.msg_header and cls.msg_id is Session.msg_id
        # send and recv inline these methods in their common case; a subclass that
        # overrides any of them gets every one of them called
        cls._inline_send = all(getattr(cls, name) is getattr(Session, name) for name in _INLINED_BY_SEND)
        cls._inline_recv = all(getattr(cls, name) is getattr(Session, name) for name in _INLINED_BY_RECV)

    _own_headers = True
    _inline_send = True
    _inline_recv = True

    def msg(
        self,
        msg_type: str,
        content: dict | None = None,
        parent: dict[str, t.Any] | None = None,
        header: dict[str, t.Any] | None = None,
        metadata: dict[str, t.Any] | None = None,
    ) -> dict[str, t.Any]:
        """Build a message dict: header, msg_id, msg_type, parent_header, content, metadata.

        This is the nested form; ``serialize`` turns it into frames for the wire.
        """
        if header is None and not self._own_headers:
            header = self.msg_header(msg_type)
        return self._builder.message(
            msg_type, content, parent, header, self._trait_values["metadata"], metadata
        )

    def sign(self, msg_list: list) -> bytes:
        """The hex HMAC of the given frames (header, parent, metadata, content); b"" unsigned."""
        signer = self._signer
        if signer is None:
            return b""
        return signer.sign(msg_list)

    def serialize(
        self,
        msg: dict[str, t.Any],
        ident: list[bytes] | bytes | None = None,
    ) -> list[bytes]:
        """The frames of a message dict, ready to send (buffers not included).

        ``[*idents, DELIM, signature, header, parent_header, metadata, content]``, each
        part packed. A list ident is spliced in frame by frame; any other ident is one frame.
        """
        content = msg.get("content", {})
        if self._pack is _INLINE_ORJSON_PACKER and type(content) is dict:
            # orjson_packer's C call made by the core, without its Python frame (a third of
            # a small part's cost), packed, signed and assembled in one call; on any error
            # (None), the general path below from the start decides.
            frames = _backend.active.frames.pack_frames(
                _orjson_dumps, json_default, _ORJSON_OPTION, msg, content, self._signer, ident
            )
            if frames is not None:
                return frames
        return self._pack_frames(msg, content, ident)

    def _pack_frames(self, msg: dict[str, t.Any], content: t.Any, ident: t.Any) -> list[bytes]:
        """serialize's general path: every part packed by ``pack``, whatever it is."""
        if content is None:
            content = self.none
        elif isinstance(content, dict):
            content = self._pack(content)
        elif isinstance(content, bytes):
            pass  # already packed (a relayed message)
        elif isinstance(content, str):
            content = content.encode("utf8")
        else:
            raise TypeError("Content incorrect type: %s" % type(content))
        pack = self._pack
        parts = [pack(msg["header"]), pack(msg["parent_header"]), pack(msg["metadata"]), content]
        signer = self._signer
        signature = b"" if signer is None else signer.sign(parts)
        return _backend.active.frames.build_frames(ident, signature, parts)

    def send(
        self,
        stream: t.Any,
        msg_or_type: dict[str, t.Any] | str,
        content: dict[str, t.Any] | None = None,
        parent: dict[str, t.Any] | None = None,
        ident: bytes | list[bytes] | None = None,
        buffers: list[t.Any] | None = None,
        track: bool = False,
        header: dict[str, t.Any] | None = None,
        metadata: dict[str, t.Any] | None = None,
    ) -> dict[str, t.Any] | None:
        """Build (unless given a message dict), sign and send a message.

        Parameters
        ----------
        stream : zmq.Socket, zmq.asyncio.Socket, ZMQStream or None
            Where to send; None builds the message and sends nothing. An asyncio socket
            is sent on at once, without awaiting (see ``send_async``).
        msg_or_type : str or dict
            A msg_type (a new message is built from content, parent, header, metadata)
            or a whole message dict, sent as it is (with its "buffers" unless given).
        ident : bytes or list of bytes
            Routing identities put in front of the message.
        buffers : list of buffer-protocol objects
            Extra frames after the message, not signed. Each frame of at least
            ``copy_threshold`` bytes (``ZERO_COPY_MIN`` while copy_threshold has its
            default) is sent without a copy; smaller ones are copied.
        track : bool
            Return a tracker that is done once ZeroMQ has released every frame sent
            without a copy (sockets only; ZMQStream cannot track).

        Returns
        -------
        The message dict, with "tracker" set; None when refused in a forked child.
        """
        if (
            type(stream) is zmq.Socket
            and type(msg_or_type) is str
            and buffers is None
            and self._inline_send
            and not self._adapt_version
            and not self._debug
            and "msg" not in (attrs := self.__dict__)
            and "serialize" not in attrs
        ):
            # The common case: a new message to a plain socket, built, packed, signed and
            # sent from this one Python frame (what msg, _prepare_send, serialize and _sent
            # do, in their order, without the calls; with recv's, 5.6k of the 96k instructions
            # a small round trip spent over pyzmq's, measured with callgrind)
            if header is None and not self._own_headers:
                header = self.msg_header(msg_or_type)
            msg = self._builder.message(
                msg_or_type, content, parent, header, self._trait_values["metadata"], metadata
            )
            if self._check_pid and _pid != self._pid:
                get_logger().warning("WARNING: attempted to send message from fork\n%s", msg)
                return None
            body, frames, core = msg["content"], None, _backend.active.frames
            if self._pack is _INLINE_ORJSON_PACKER and type(body) is dict:
                option = _ORJSON_OPTION
                frames = core.pack_frames(_orjson_dumps, json_default, option, msg, body, self._signer, ident)
            if frames is None:
                frames = self._pack_frames(msg, body, ident)
            if _backend.active.transport.send_copied(stream, frames, self._zero_copy_from):
                msg["tracker"] = DONE
                return msg
            sent, tracker = self._zero_copy_frames(frames, track)
            _send_frames(stream, sent)
            msg["tracker"] = tracker
            return msg
        if type(stream) is not zmq.Socket:  # the common case needs no unwrapping
            if not isinstance(stream, zmq.Socket):
                track = False  # only sockets can track
            if isinstance(stream, zmq.asyncio.Socket):
                stream = zmq.Socket.shadow(stream.underlying)
        prepared = self._prepare_send(msg_or_type, content, parent, ident, buffers, header, metadata)
        if prepared is None:
            return None
        msg, to_send = prepared
        tracker = DONE
        if stream is None:
            pass
        elif type(stream) is zmq.Socket and _backend.active.transport.send_copied(
            stream, to_send, self._zero_copy_from
        ):
            pass  # the common case: every frame copied, the whole message in one call
        elif isinstance(stream, zmq.Socket):
            frames, tracker = self._zero_copy_frames(to_send, track)
            if type(stream) is zmq.Socket:
                _send_frames(stream, frames)  # every frame checked by _zero_copy_frames
            else:
                stream.send_multipart(frames)
        elif _is_zmqstream(stream):
            try:
                frames, tracker = self._zero_copy_frames(to_send, track)
            except TypeError:
                # a frame that is no buffer (a str ident): queued as it is, the stream
                # raises when it flushes, as with the reference
                frames = to_send
            stream.send_multipart(frames)
        else:  # a socket-like object: given the frames as they are, as by the reference
            longest = max(_backend.active.frames.frame_sizes(to_send))
            stream.send_multipart(to_send, copy=longest < self._zero_copy_from)
        return self._sent(msg, to_send, tracker)

    async def send_async(
        self,
        socket: zmq.asyncio.Socket,
        msg_or_type: dict[str, t.Any] | str,
        content: dict[str, t.Any] | None = None,
        parent: dict[str, t.Any] | None = None,
        ident: bytes | list[bytes] | None = None,
        buffers: list[t.Any] | None = None,
        track: bool = False,
        header: dict[str, t.Any] | None = None,
        metadata: dict[str, t.Any] | None = None,
    ) -> dict[str, t.Any] | None:
        """``send`` for a ``zmq.asyncio.Socket``: awaits until ZeroMQ has queued the
        message (the socket may be full), without blocking the event loop.

        Same arguments and result as ``send``.
        """
        if not isinstance(socket, zmq.asyncio.Socket):
            raise TypeError(f"send_async needs a zmq.asyncio.Socket, not {type(socket).__name__}")
        prepared = self._prepare_send(msg_or_type, content, parent, ident, buffers, header, metadata)
        if prepared is None:
            return None
        msg, to_send = prepared
        frames, tracker = self._zero_copy_frames(to_send, track)
        await socket.send_multipart(frames)
        return self._sent(msg, to_send, tracker)

    def _prepare_send(
        self,
        msg_or_type: t.Any,
        content: t.Any,
        parent: t.Any,
        ident: t.Any,
        buffers: t.Any,
        header: t.Any,
        metadata: t.Any,
    ) -> tuple[dict[str, t.Any], list[t.Any]] | None:
        """The message and its frames, or None when sending from a forked child."""
        if isinstance(msg_or_type, (Message, dict)):
            msg = msg_or_type
            buffers = buffers or msg.get("buffers", [])  # type: ignore[union-attr]
        else:
            msg = self.msg(msg_or_type, content=content, parent=parent, header=header, metadata=metadata)
        if self._check_pid and _pid != self._pid:
            get_logger().warning("WARNING: attempted to send message from fork\n%s", msg)
            return None
        if buffers is None:
            buffers = []
        _backend.active.frames.check_buffers(buffers)
        if self._adapt_version:
            msg = adapt(msg, self._adapt_version)  # type: ignore[arg-type]
        to_send = self.serialize(msg, ident)  # type: ignore[arg-type]
        to_send.extend(buffers)
        return msg, to_send  # type: ignore[return-value]

    def _sent(self, msg: t.Any, to_send: list[t.Any], tracker: zmq.MessageTracker) -> t.Any:
        if self._debug:
            pprint.pprint(msg)  # noqa: T203
            pprint.pprint(to_send)  # noqa: T203
        msg["tracker"] = tracker
        return msg

    def _zero_copy_frames(self, to_send: list[t.Any], track: bool) -> tuple[list[t.Any], t.Any]:
        """Decide copy or zero copy frame by frame: frames of at least ``copy_threshold``
        bytes (``ZERO_COPY_MIN`` while it has its default) become ``zmq.Frame`` objects
        sharing their memory (pyzmq sends a Frame without copying it), the rest stay as they
        are and are copied. With ``track``, the tracker covers every zero-copy frame and is
        done once ZeroMQ has released them all.
        """
        sizes = _backend.active.frames.frame_sizes(to_send)
        threshold = self._zero_copy_from
        if max(sizes) < threshold:
            return to_send, DONE
        frames = []
        trackers = []
        for frame, size in zip(to_send, sizes, strict=True):
            if size < threshold:
                frames.append(frame)
                continue
            if not isinstance(frame, zmq.Frame):
                frame = zmq.Frame(frame, copy=False, track=track)
            if track and frame.tracker is not None:
                trackers.append(frame.tracker)
            frames.append(frame)
        return frames, (zmq.MessageTracker(*trackers) if trackers else DONE)

    def send_raw(
        self,
        stream: t.Any,
        msg_list: list,
        flags: int = 0,
        copy: bool = True,
        ident: bytes | list[bytes] | None = None,
    ) -> None:
        """Send an already packed message: ``msg_list`` is [header, parent, metadata,
        content, *buffers]; the first four are signed here."""
        if isinstance(ident, bytes):
            ident = [ident]
        to_send = _backend.active.frames.build_frames(ident, self.sign(msg_list[0:4]), msg_list)
        if isinstance(stream, zmq.asyncio.Socket):
            stream = zmq.Socket.shadow(stream.underlying)
        stream.send_multipart(to_send, flags, copy=copy)

    def recv(
        self,
        socket: t.Any,
        mode: int = zmq.NOBLOCK,
        content: bool = True,
        copy: bool = True,
    ) -> tuple[list[bytes] | None, dict[str, t.Any] | None]:
        """Receive and deserialize one message: ``(idents, msg)``, or ``(None, None)``
        when nothing is waiting (EAGAIN in the default NOBLOCK mode).

        With ``copy=False`` the frames are verified and read in place, and the buffers
        come back as memoryviews of the received frames.
        """
        if type(socket) is not zmq.Socket:  # the common case needs no unwrapping
            if _is_zmqstream(socket):
                socket = socket.socket
            if isinstance(socket, zmq.asyncio.Socket):
                socket = zmq.Socket.shadow(socket.underlying)
        try:
            if type(socket) is zmq.Socket and _FRAMES_KNOW_MORE:  # see _recv_frames
                if copy:  # the whole message in one call
                    msg_list = _backend.active.transport.recv_copied(socket, mode)
                else:
                    msg_list = _backend.active.frames.recv_frames(_backend_recv, socket, mode, copy)
            elif type(socket) is zmq.Socket:
                msg_list = _recv_frames(socket, mode, copy)
            else:
                msg_list = socket.recv_multipart(mode, copy=copy)
        except zmq.ZMQError as e:
            if e.errno == zmq.EAGAIN:
                return None, None
            raise
        if (
            self._inline_recv
            and not self._debug
            and "feed_identities" not in (attrs := self.__dict__)
            and "deserialize" not in attrs
        ):
            # The common case, what feed_identities and deserialize do, in this frame
            idx = _backend.active.find_delimiter(msg_list)
            if idx == 0 or (idx > 0 and copy):
                parts_as, loads, unpack = self._unpacking
                try:
                    return msg_list[:idx], self._verified_message(
                        msg_list[idx + 1 :], self._signer, self._trait_values["digest_history"], content,
                        0 if copy else parts_as, loads, unpack, parse_date, adapt, MAX_SIGNATURE_SIZE,
                        _signature_bytes,
                    )  # fmt: skip
                except RecursionError:
                    raise ValueError(MAX_DEPTH_MESSAGE) from None
                except OverflowError as e:
                    raise ValueError(f"value out of range in message: {e}") from None
        idents, msg_list = self.feed_identities(msg_list, copy)
        return idents, self.deserialize(msg_list, content=content, copy=copy)

    async def recv_async(
        self,
        socket: zmq.asyncio.Socket,
        content: bool = True,
        copy: bool = True,
    ) -> tuple[list[t.Any], dict[str, t.Any]]:
        """Await the next message on a ``zmq.asyncio.Socket``: ``(idents, msg)``, as ``recv``.

        An asyncio kernel or client awaits this instead of polling ``recv``.
        """
        if not isinstance(socket, zmq.asyncio.Socket):
            raise TypeError(f"recv_async needs a zmq.asyncio.Socket, not {type(socket).__name__}")
        msg_list = await socket.recv_multipart(copy=copy)
        idents, msg_list = self.feed_identities(msg_list, copy)
        return idents, self.deserialize(msg_list, content=content, copy=copy)

    def feed_identities(self, msg_list: list[t.Any], copy: bool = True) -> tuple[list[t.Any], list[t.Any]]:
        """Split a received frame list at the delimiter: ``(idents, rest)``.

        ``rest`` starts at the signature and goes to ``deserialize``. With copy=False the
        frames are ``zmq.Frame`` objects: the idents come back as bytes (a frame over
        ``IDENT_COPY_LIMIT`` as a memoryview of itself), the rest as Frames.
        Frames are compared by length before content, so a huge frame costs nothing.
        """
        idx = _backend.active.find_delimiter(msg_list)
        if idx < 0 and not copy:
            # frame-like objects with only ``.bytes`` (test doubles): accepted, as by the reference
            return _feed_frame_likes(msg_list)
        if idx < 0:
            if copy:
                raise ValueError(f"{DELIM!r} is not in list")
            raise ValueError("DELIM not in msg_list")
        if copy:
            return msg_list[:idx], msg_list[idx + 1 :]
        if idx == 0:  # the common case (a DEALER or PAIR peer): no idents to convert
            return [], msg_list[1:]
        idents = [_ident_bytes(m) for m in itertools.islice(msg_list, idx)]
        return idents, msg_list[idx + 1 :]

    def _add_digest(self, signature: bytes) -> None:
        """Remember a signature, to refuse a replay of its message."""
        self._trait_values["digest_history"].add(signature)

    def _cull_digest_history(self) -> None:
        """Forget the oldest 10% of the remembered signatures (more if past the size)."""
        self._trait_values["digest_history"].cull()

    def deserialize(
        self,
        msg_list: list[t.Any],
        content: bool = True,
        copy: bool = True,
    ) -> dict[str, t.Any]:
        """Turn received frames ``[signature, header, parent, metadata, content, *buffers]``
        into a message dict, after checking the signature and replays.

        The result has the keys header, msg_id, msg_type, parent_header, metadata, content
        and buffers (memoryviews; with copy=False views of the received Frames). With
        content=False the content stays packed bytes and the signature is not remembered.
        """
        # the four packed parts go to the unpacker as they are (copy=True), or as views of
        # the received frames' memory, or as bytes for a custom unpacker, as the reference
        parts_as, loads, unpack = self._unpacking
        if copy:
            parts_as = 0
        try:
            if self._debug:
                message = _backend.active.messages.verified_message(
                    msg_list, self._signer, self._trait_values["digest_history"], content,
                    parts_as, loads, unpack, parse_date, None, MAX_SIGNATURE_SIZE, _signature_bytes,
                )  # fmt: skip
                pprint.pprint(message)  # noqa: T203
                return adapt(message)
            # signature checked (only a verified one is remembered, in one step with the
            # replay check: see verified_message), then unpacked, in one compiled call
            return self._verified_message(
                msg_list, self._signer, self._trait_values["digest_history"], content,
                parts_as, loads, unpack, parse_date, adapt, MAX_SIGNATURE_SIZE, _signature_bytes,
            )  # fmt: skip
        except RecursionError:
            # nested past the interpreter's limit (in the unpacker or the date scan): a
            # refusal of this message, not an interpreter error (the reference raises that)
            raise ValueError(MAX_DEPTH_MESSAGE) from None
        except OverflowError as e:
            # a date past 9999-12-31 (the reference lets OverflowError out): a bad value
            raise ValueError(f"value out of range in message: {e}") from None

    def unserialize(self, *args: t.Any, **kwargs: t.Any) -> dict[str, t.Any]:
        """Deprecated alias of ``deserialize``."""
        warnings.warn(
            "Session.unserialize is deprecated. Use Session.deserialize.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.deserialize(*args, **kwargs)


# pyzmq's send_multipart and recv_multipart are Python loops over Python wrappers of the
# compiled backend's send, recv and get: for a plain zmq.Socket the same loops run here
# straight on the backend (a few microseconds less per small message, each way).
_SNDMORE = zmq.SNDMORE

# what send and recv inline (see Session.__init_subclass__)
_INLINED_BY_SEND = ("msg", "serialize", "_prepare_send", "_sent", "_pack_frames")
_INLINED_BY_RECV = ("feed_identities", "deserialize")
_RCVMORE = zmq.RCVMORE
_backend_send = zmq.backend.Socket.send
_backend_recv = zmq.backend.Socket.recv
_backend_get = zmq.backend.Socket.get


def _zero_copy_min(copy_threshold: int) -> int:
    """The size from which a frame is sent without a copy (see ZERO_COPY_MIN)."""
    return ZERO_COPY_MIN if copy_threshold == DEFAULT_COPY_THRESHOLD else copy_threshold


def _send_frames(socket: zmq.Socket, frames: list[t.Any]) -> None:
    """socket.send_multipart(frames), for frames already known to be buffers or Frames."""
    last = len(frames) - 1
    for i in range(last):
        _backend_send(socket, frames[i], _SNDMORE)
    _backend_send(socket, frames[last], 0)


def _recv_frames(socket: zmq.Socket, flags: int, copy: bool) -> list[t.Any]:
    """socket.recv_multipart(flags, copy=copy)."""
    if _FRAMES_KNOW_MORE:
        # a Frame already carries RCVMORE: asking the socket again costs pyzmq an enum
        # lookup per frame (measured: 7-frame message 9.1 -> 3.7 us received as Frames,
        # 6.5 -> 4.3 us as bytes, taken from the Frames); the loop runs compiled
        return _backend.active.frames.recv_frames(_backend_recv, socket, flags, copy)
    parts = [_backend_recv(socket, flags, copy)]
    while _backend_get(socket, _RCVMORE):
        parts.append(_backend_recv(socket, flags, copy))
    return parts


# pyzmq's Cython backend sets Frame.more on every recv(copy=False); the CFFI one (PyPy) may not
_FRAMES_KNOW_MORE = zmq.backend.Socket.__module__.startswith("zmq.backend.cython")


def _signature_bytes(frame: t.Any) -> bytes:
    """A signature frame's bytes, at most one byte past the largest accepted size."""
    size = _backend.active.frames.frame_sizes((frame,))[0]  # TypeError unless a buffer
    return bytes(memoryview(frame)[: MAX_SIGNATURE_SIZE + 1]) if size else b""


def _feed_frame_likes(msg_list: list[t.Any]) -> tuple[list[t.Any], list[t.Any]]:
    """feed_identities(copy=False) over objects that are not buffers but have ``.bytes``."""
    contents = [getattr(m, "bytes", m) for m in msg_list]
    idx = _backend.active.find_delimiter(contents)
    if idx < 0:
        raise ValueError("DELIM not in msg_list")
    return [_ident_bytes(m) for m in contents[:idx]], msg_list[idx + 1 :]


def _ident_bytes(frame: t.Any) -> t.Any:
    if type(frame) is bytes:
        return frame
    view = memoryview(frame)
    return view if view.nbytes > IDENT_COPY_LIMIT else view.tobytes()
