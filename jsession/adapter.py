"""Translation of Jupyter messages between major versions 4 and 5 of the protocol.

Same names and results as ``jupyter_client.adapter``: adapters change a message in place
(sometimes replacing its ``content`` with a new dict) and return that same message.
``adapt`` runs on every received message, so a current v5 message passes through it
without touching any adapter.
"""

import json
import re
import sys as _sys
from datetime import datetime as _datetime
from datetime import timezone as _timezone
from typing import Any

from ._version import protocol_version_info

# The private imports above are aliased so that a star-import exposes the reference's names only.


def code_to_line(code: str, cursor_pos: int) -> tuple[str, int]:
    """Return the line of ``code`` holding ``cursor_pos``, and the cursor offset in that line.

    A cursor past the end lands on the last line, its offset counted past the end of the
    code; empty code gives ``("", 0)``. Line endings stay part of the line.
    """
    if not code:
        return "", 0
    for line in code.splitlines(True):
        width = len(line)
        # a cursor exactly at the end of a line belongs to that line
        if not cursor_pos > width:
            break
        cursor_pos -= width
    return line, cursor_pos


_CLOSED_GROUP = re.compile(r"\([^()]+\)")
_NAME = re.compile(r"[a-z_][a-z0-9_.]*", re.IGNORECASE)


def extract_oname_v4(code: str, cursor_pos: int) -> str:
    """Guess the object name a v4 ``object_info_request`` asks about.

    Follows the token rule of the IPython 2 notebook: on the cursor's line, drop every
    parenthesised group (innermost first), then everything from the last unclosed ``(``;
    the answer is the last dotted identifier left, or ``""``.
    """
    line, _ = code_to_line(code, cursor_pos)
    # each substitution removes at least "(x)", so a zero count means nothing changed
    removed = 1
    while removed:
        line, removed = _CLOSED_GROUP.subn("", line)
    unclosed = line.rfind("(")
    if unclosed >= 0:
        line = line[:unclosed]
    names = _NAME.findall(line)
    return names[-1] if names else ""


_STATUSES_LEFT_ALONE = frozenset(("error", "aborted"))


class Adapter:
    """Base of the message adapters: an instance is called with a message and returns it adapted.

    A subclass renames message types through ``msg_type_map`` and converts the content of a
    message type with a method named after it (looked up after the rename). Replies whose
    status is "error" or "aborted" go to ``handle_reply_status_error`` instead.
    """

    msg_type_map: dict[str, str] = {}

    def update_header(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Adjust the header and parent header; nothing changes here."""
        return msg

    def update_metadata(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Adjust the metadata; nothing changes here."""
        return msg

    def update_msg_type(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Rename the message type, in the header and at the top level, per ``msg_type_map``."""
        header = msg["header"]
        old = header["msg_type"]
        renames = self.msg_type_map
        if old in renames:
            msg["msg_type"] = header["msg_type"] = renames[old]
        return msg

    def handle_reply_status_error(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Adapt a failed or aborted reply, in place of its type's method; nothing changes here."""
        return msg

    def __call__(self, msg: dict[str, Any]) -> dict[str, Any]:
        msg = self.update_header(msg)
        msg = self.update_metadata(msg)
        msg = self.update_msg_type(msg)
        convert = getattr(self, msg["header"]["msg_type"], None)
        if convert is None:
            return msg
        if msg["content"].get("status", None) in _STATUSES_LEFT_ALONE:
            return self.handle_reply_status_error(msg)
        return convert(msg)


def _version_parts(version: str) -> list[int]:
    """ "5.1.dev0" -> [5, 1]: the dot-separated pieces that int() accepts."""
    parts: list[int] = []
    for piece in version.split("."):
        try:
            parts.append(int(piece))
        except ValueError:
            continue
    return parts


def _version_string(parts: Any) -> str:
    """[5, 1] -> "5.1"."""
    return ".".join(map(str, parts))


# v4 kept versions as lists of ints; v5 as strings.
_KERNEL_INFO_VERSION_KEYS = ("language_version", "protocol_version")

# v4 inspect fields, by preference, for the v5 text/plain bundle: one signature, one docstring.
_SIGNATURE_KEYS = ("call_def", "init_definition", "definition")
_DOCSTRING_KEYS = ("call_docstring", "init_docstring", "docstring")


def _first_present(content: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if content.get(key, False):
            return content[key]
    return None


class V5toV4(Adapter):
    """Adapter from protocol 5 down to protocol 4 (4.1)."""

    version = "4.1"

    msg_type_map = {
        "execute_result": "pyout",
        "execute_input": "pyin",
        "error": "pyerr",
        "inspect_request": "object_info_request",
        "inspect_reply": "object_info_reply",
    }

    def update_header(self, msg: dict[str, Any]) -> dict[str, Any]:
        """v4 headers carry no version."""
        msg["header"].pop("version", None)
        msg["parent_header"].pop("version", None)
        return msg

    # shell channel

    def kernel_info_reply(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Rebuild the content with v4's list versions and a top-level language."""
        content = msg["content"]
        old: dict[str, Any] = {}
        for key in _KERNEL_INFO_VERSION_KEYS:
            if key in content:
                old[key] = _version_parts(content[key])
        if content.get("implementation", "") == "ipython" and "implementation_version" in content:
            old["ipython_version"] = _version_parts(content["implementation_version"])
        language_info = content.get("language_info", {})
        old.setdefault("language", language_info.get("name", ""))
        if "version" in language_info:
            old.setdefault("language_version", _version_parts(language_info["version"]))
        msg["content"] = old
        return msg

    def execute_request(self, msg: dict[str, Any]) -> dict[str, Any]:
        """v4 requests always list user_variables."""
        msg["content"].setdefault("user_variables", [])
        return msg

    def execute_reply(self, msg: dict[str, Any]) -> dict[str, Any]:
        """v4 replies always carry user_variables; payloads pass unchanged."""
        msg["content"].setdefault("user_variables", {})
        return msg

    def complete_request(self, msg: dict[str, Any]) -> dict[str, Any]:
        """v5 sends the whole cell; v4 wants the cursor's line."""
        content = msg["content"]
        line, cursor_pos = code_to_line(content["code"], content["cursor_pos"])
        msg["content"] = {"text": "", "line": line, "block": None, "cursor_pos": cursor_pos}
        return msg

    def complete_reply(self, msg: dict[str, Any]) -> dict[str, Any]:
        """The cursor range becomes the text the first match replaces."""
        content = msg["content"]
        start = content.pop("cursor_start")
        end = content.pop("cursor_end")
        matched_length = end - start
        content["matched_text"] = content["matches"][0][:matched_length]
        content.pop("metadata", None)
        return msg

    def object_info_request(self, msg: dict[str, Any]) -> dict[str, Any]:
        """v5 sends code and cursor; v4 wants the name under the cursor."""
        content = msg["content"]
        code = content["code"]
        cursor_pos = content["cursor_pos"]
        code_to_line(code, cursor_pos)  # raises, before content is replaced, on a bad cursor
        old: dict[str, Any] = {}
        msg["content"] = old
        old["oname"] = extract_oname_v4(code, cursor_pos)
        old["detail_level"] = content["detail_level"]
        return msg

    def object_info_reply(self, msg: dict[str, Any]) -> dict[str, Any]:
        """A v5 mime bundle has no v4 field breakdown: report nothing found."""
        msg["content"] = {"found": False, "oname": "unknown"}
        return msg

    # iopub channel

    def stream(self, msg: dict[str, Any]) -> dict[str, Any]:
        """The stream's text is called data in v4."""
        content = msg["content"]
        content["data"] = content.pop("text")
        return msg

    def display_data(self, msg: dict[str, Any]) -> dict[str, Any]:
        """v4 display data names a source and carries JSON data as a string."""
        content = msg["content"]
        content.setdefault("source", "display")
        data = content["data"]
        if "application/json" in data:
            try:
                data["application/json"] = json.dumps(data["application/json"])
            except Exception:  # not serialisable: leave it as it is
                pass
        return msg

    # stdin channel

    def input_request(self, msg: dict[str, Any]) -> dict[str, Any]:
        """v4 has no password prompts."""
        msg["content"].pop("password", None)
        return msg


class V4toV5(Adapter):
    """Adapter from protocol 4 up to protocol 5 (5.0)."""

    version = "5.0"

    msg_type_map = {v4: v5 for v5, v4 in V5toV4.msg_type_map.items()}

    def update_header(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Stamp the version on the header, and on the parent header when there is one."""
        msg["header"]["version"] = self.version
        parent = msg["parent_header"]
        if parent:
            parent["version"] = self.version
        return msg

    # shell channel

    def kernel_info_reply(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Versions become strings; the language moves into language_info."""
        content = msg["content"]
        for key in ("protocol_version", "ipython_version"):
            if key in content:
                content[key] = _version_string(content[key])
        content.setdefault("protocol_version", "4.1")
        if content["language"].startswith("python") and "ipython_version" in content:
            content["implementation"] = "ipython"
            content["implementation_version"] = content.pop("ipython_version")
        language = content.pop("language")
        language_info = content.setdefault("language_info", {})
        language_info.setdefault("name", language)
        if "language_version" in content:
            language_info.setdefault("version", _version_string(content.pop("language_version")))
        content["banner"] = ""
        return msg

    def execute_request(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Each v4 user variable becomes a user expression naming itself."""
        content = msg["content"]
        names = content.pop("user_variables", [])
        expressions = content.setdefault("user_expressions", {})
        for name in names:
            expressions[name] = name
        return msg

    def execute_reply(self, msg: dict[str, Any]) -> dict[str, Any]:
        """User variables join the user expressions; pager text becomes a mime bundle."""
        content = msg["content"]
        expressions = content.setdefault("user_expressions", {})
        variables = content.pop("user_variables", {})
        if variables:
            expressions.update(variables)
        for payload in content.get("payload", []):
            if payload.get("source", None) == "page" and "text" in payload:
                if "data" not in payload:
                    payload["data"] = {}
                text = payload.pop("text")
                payload["data"]["text/plain"] = text
        return msg

    def complete_request(self, msg: dict[str, Any]) -> dict[str, Any]:
        """The v4 line stands in for the v5 code."""
        content = msg["content"]
        new: dict[str, Any] = {}
        msg["content"] = new
        new["code"] = content["line"]
        new["cursor_pos"] = content["cursor_pos"]
        return msg

    def complete_reply(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Express the matched text as a cursor range.

        Without the request, the range is relative to the cursor: cursor_end None means
        "at the cursor", cursor_start is minus the matched length, or None when nothing was
        matched (there is no -0).
        """
        content = msg["content"]
        new: dict[str, Any] = {"status": "ok"}
        msg["content"] = new
        new["matches"] = content["matches"]
        matched = content["matched_text"]
        new["cursor_start"] = -len(matched) if matched else None
        new["cursor_end"] = None
        new["metadata"] = {}
        return msg

    def inspect_request(self, msg: dict[str, Any]) -> dict[str, Any]:
        """The v4 object name becomes the code, with the cursor after it."""
        content = msg["content"]
        name = content["oname"]
        new: dict[str, Any] = {}
        msg["content"] = new
        new["code"] = name
        new["cursor_pos"] = len(name)
        new["detail_level"] = content["detail_level"]
        return msg

    def inspect_reply(self, msg: dict[str, Any]) -> dict[str, Any]:
        """The v4 fields fold into a text/plain bundle: a signature, then a docstring."""
        content = msg["content"]
        new: dict[str, Any] = {"status": "ok"}
        msg["content"] = new
        found = new["found"] = content["found"]
        data: dict[str, str] = {}
        new["data"] = data
        new["metadata"] = {}
        if found:
            lines = [
                text
                for text in (
                    _first_present(content, _SIGNATURE_KEYS),
                    _first_present(content, _DOCSTRING_KEYS),
                )
                if text is not None
            ]
            data["text/plain"] = "\n".join(lines or ["<empty docstring>"])
        return msg

    # iopub channel

    def stream(self, msg: dict[str, Any]) -> dict[str, Any]:
        """The stream's data is called text in v5."""
        content = msg["content"]
        content["text"] = content.pop("data")
        return msg

    def display_data(self, msg: dict[str, Any]) -> dict[str, Any]:
        """v5 display data has no source, and carries JSON data as JSON."""
        content = msg["content"]
        content.pop("source", None)
        data = content["data"]
        if "application/json" in data:
            try:
                data["application/json"] = json.loads(data["application/json"])
            except Exception:  # not a JSON string: leave it as it is
                pass
        return msg

    # stdin channel

    def input_request(self, msg: dict[str, Any]) -> dict[str, Any]:
        """v5 input requests always say whether the input is a password."""
        msg["content"].setdefault("password", False)
        return msg


def _utcnow() -> _datetime:
    # jsession.session.utcnow when loaded, so patching it reaches adapt as with the reference
    session = _sys.modules.get("jsession.session")
    if session is not None:
        return session.utcnow()
    return _datetime.now(_timezone.utc)


# Major version of the protocol versions in use, so the common case skips parsing.
_KNOWN_MAJORS = {f"{major}.{minor}": major for major, last in ((4, 1), (5, 4)) for minor in range(last + 1)}


def adapt(msg: dict[str, Any], to_version: int = protocol_version_info[0]) -> dict[str, Any]:
    """Adapt ``msg`` to major protocol version ``to_version``, in place, and return it.

    A header without a date gets the current UTC time; a header without a version is
    taken as version 4. When ``adapters`` has no entry for (from, to), ``msg`` is returned
    unchanged.
    """
    header = msg["header"]
    if "date" not in header:
        header["date"] = _utcnow()
    if "version" in header:
        version = header["version"]
        try:
            from_version = _KNOWN_MAJORS[version]
        except (KeyError, TypeError):
            from_version = int(version.split(".")[0])
    else:
        # the version key came with protocol 5
        from_version = 4
    adapter = adapters.get((from_version, to_version))
    if adapter is None:
        return msg
    return adapter(msg)


#: One adapter per (from, to) pair of major versions.
adapters = {
    (5, 4): V5toV4(),
    (4, 5): V4toV5(),
}
