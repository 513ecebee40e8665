"""jsession.adapter: conversions between protocol 4 and 5, and ``adapt`` on received messages.

Hand-written expectations first, then a differential check against jupyter_client 8.10 over
a corpus of v4 and v5 messages (results, in-place changes, key order and errors must match).
"""

import copy
import json
import sys
import types
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jsession import adapter
from jsession.adapter import V4toV5, V5toV4, adapt, code_to_line, extract_oname_v4

DATE = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)


def make_msg(msg_type, content, version="5.4", parent=None, date=DATE):
    """A deserialized message; version=None makes a v4 header (no version key)."""
    header = {
        "msg_id": "id-" + msg_type,
        "msg_type": msg_type,
        "username": "user",
        "session": "sess",
    }
    if date is not None:
        header["date"] = date
    if version is not None:
        header["version"] = version
    return {
        "header": header,
        "msg_id": header["msg_id"],
        "msg_type": msg_type,
        "parent_header": {} if parent is None else parent,
        "metadata": {},
        "content": content,
        "buffers": [],
    }


def parent_header(version="5.4"):
    header = {"msg_id": "parent", "msg_type": "execute_request", "session": "s", "date": DATE}
    if version is not None:
        header["version"] = version
    return header


# --- adapt: the hot path and its defaults -------------------------------------------------


def test_current_message_is_returned_untouched():
    msg = make_msg("execute_request", {"code": "1", "user_expressions": {}}, parent=parent_header())
    content = msg["content"]
    before = copy.deepcopy(msg)
    assert adapt(msg) is msg
    assert msg == before
    assert msg["content"] is content


@pytest.mark.parametrize("version", ["5.0", "5.3", "5.4", "5", "5.99.dev1"])
def test_any_v5_message_needs_no_adapter_to_v5(version):
    msg = make_msg("stream", {"name": "stdout", "text": "x"}, version=version)
    before = copy.deepcopy(msg)
    assert adapt(msg, 5) is msg
    assert msg == before


def test_default_target_is_the_current_major_version():
    assert adapt.__defaults__ == (5,)
    msg = make_msg("stream", {"name": "stdout", "data": "x"}, version=None)
    assert adapt(msg)["content"] == {"name": "stdout", "text": "x"}


def test_missing_date_is_filled_with_aware_utc_now():
    msg = make_msg("status", {"execution_state": "idle"}, date=None)
    before = datetime.now(timezone.utc)
    adapt(msg)
    after = datetime.now(timezone.utc)
    date = msg["header"]["date"]
    assert isinstance(date, datetime)
    assert date.utcoffset() == timedelta(0)
    assert before <= date <= after


def test_present_date_is_left_as_is():
    msg = make_msg("status", {}, date="not even a date")
    adapt(msg)
    assert msg["header"]["date"] == "not even a date"


def test_missing_date_comes_from_the_session_clock(monkeypatch):
    # like the reference's adapt, which reads its session module's utcnow at call time
    stamp = datetime(2001, 2, 3, tzinfo=timezone.utc)
    fake_session = types.ModuleType("jsession.session")
    fake_session.utcnow = lambda: stamp
    monkeypatch.setitem(sys.modules, "jsession.session", fake_session)
    msg = make_msg("status", {}, date=None)
    adapt(msg)
    assert msg["header"]["date"] is stamp


def test_header_without_version_is_upgraded_from_v4():
    msg = make_msg("status", {"execution_state": "busy"}, version=None, parent=parent_header(None))
    assert adapt(msg) is msg
    assert msg["header"]["version"] == V4toV5.version == "5.0"
    assert msg["parent_header"]["version"] == "5.0"


def test_empty_parent_header_gets_no_version():
    msg = make_msg("status", {}, version=None)
    adapt(msg)
    assert msg["parent_header"] == {}


def test_downgrade_drops_versions():
    msg = make_msg("status", {}, parent=parent_header())
    adapt(msg, 4)
    assert "version" not in msg["header"]
    assert "version" not in msg["parent_header"]


@pytest.mark.parametrize(
    ("version", "to_version"), [("5.4", 3), ("5.4", 6), ("6.0", 5), ("4.1", 4), (None, 4)]
)
def test_pairs_without_an_adapter_return_the_message_unchanged(version, to_version):
    msg = make_msg("stream", {"name": "stdout", "text": "x"}, version=version)
    before = copy.deepcopy(msg)
    assert adapt(msg, to_version) is msg
    assert msg == before


@pytest.mark.parametrize(
    ("version", "error"),
    [("x.4", ValueError), ("", ValueError), (5, AttributeError), (None, AttributeError), (b"5.4", TypeError)],
)
def test_unreadable_versions_raise(version, error):
    msg = make_msg("status", {})
    msg["header"]["version"] = version
    with pytest.raises(error):
        adapt(msg)


def test_adapters_table():
    assert set(adapter.adapters) == {(5, 4), (4, 5)}
    assert isinstance(adapter.adapters[(5, 4)], V5toV4)
    assert isinstance(adapter.adapters[(4, 5)], V4toV5)


def test_adapt_uses_the_module_table(monkeypatch):
    seen = []
    monkeypatch.setitem(adapter.adapters, (5, 5), lambda msg: seen.append(msg) or "adapted")
    msg = make_msg("status", {})
    assert adapt(msg, 5) == "adapted"
    assert seen == [msg]


# --- code_to_line and extract_oname_v4 --------------------------------------------------------

CODE = "import os\nos.path.join(a,\n  b)"


@pytest.mark.parametrize(
    ("code", "cursor_pos", "expected"),
    [
        ("", 0, ("", 0)),
        ("", 7, ("", 0)),
        ("abc", 0, ("abc", 0)),
        ("abc", 3, ("abc", 3)),
        ("abc", 10, ("abc", 7)),
        (CODE, 5, ("import os\n", 5)),
        (CODE, 10, ("import os\n", 10)),  # at the end of a line: that line, newline included
        (CODE, 11, ("os.path.join(a,\n", 1)),
        (CODE, 26, ("os.path.join(a,\n", 16)),
        (CODE, 27, ("  b)", 1)),
        (CODE, 99, ("  b)", 69)),  # past the end: last line, offset = cursor - len(code)
        ("a\r\nb", 3, ("a\r\n", 3)),
        ("a\r\nb", 4, ("b", 1)),
    ],
)
def test_code_to_line(code, cursor_pos, expected):
    assert code_to_line(code, cursor_pos) == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("", ""),
        ("os.path", "os.path"),
        ("np.array(x", "np.array"),
        ("f(a(b), c", "f"),
        ("print(x) + y", "y"),
        ("len(x)(", "len"),
        ("f()", "f"),  # an empty pair is not a group: the unclosed rule removes it
        ("a() + b", "a"),
        ("x = 1 + (y", "x"),
        ("obj[0].attr", "attr"),
        ("9abc", "abc"),
        ("(((", ""),
        ("\u017felf.x", "\u017felf.x"),  # case-insensitive ASCII letters admit the long s
    ],
)
def test_extract_oname_v4(code, expected):
    assert extract_oname_v4(code, len(code)) == expected


def test_extract_oname_v4_reads_the_cursor_line():
    code = "first(1)\nsecond.attr(x"
    assert extract_oname_v4(code, 3) == "first"
    assert extract_oname_v4(code, len(code)) == "second.attr"


# --- conversions, table-driven ----------------------------------------------------------------

KERNEL_INFO_V5 = {
    "status": "ok",
    "protocol_version": "5.4",
    "implementation": "ipython",
    "implementation_version": "8.12.0rc1",
    "language_info": {"name": "python", "version": "3.11.7", "mimetype": "text/x-python"},
    "banner": "Python",
}
KERNEL_INFO_V4 = {
    "protocol_version": [4, 1],
    "ipython_version": [2, 3, 0, "dev"],
    "language_version": [2, 7, 8],
    "language": "python",
}

# (from version, to version, msg_type in, content in, msg_type out, content out)
CONVERSIONS = [
    (5, 4, "execute_request", {"code": "1"}, "execute_request", {"code": "1", "user_variables": []}),
    (5, 4, "execute_reply", {"status": "ok"}, "execute_reply", {"status": "ok", "user_variables": {}}),
    (
        5,
        4,
        "execute_reply",
        {"status": "error", "ename": "E"},
        "execute_reply",
        {"status": "error", "ename": "E"},
    ),
    (5, 4, "execute_reply", {"status": "aborted"}, "execute_reply", {"status": "aborted"}),
    (5, 4, "execute_result", {"data": {}}, "pyout", {"data": {}}),
    (5, 4, "execute_input", {"code": "x"}, "pyin", {"code": "x"}),
    (5, 4, "error", {"ename": "E"}, "pyerr", {"ename": "E"}),
    (
        5,
        4,
        "complete_request",
        {"code": "import os\nos.pa", "cursor_pos": 15},
        "complete_request",
        {"text": "", "line": "os.pa", "block": None, "cursor_pos": 5},
    ),
    (
        5,
        4,
        "complete_reply",
        {
            "matches": ["os.path", "os.pardir"],
            "cursor_start": 10,
            "cursor_end": 15,
            "metadata": {},
            "status": "ok",
        },
        "complete_reply",
        {"matches": ["os.path", "os.pardir"], "status": "ok", "matched_text": "os.pa"},
    ),
    (
        5,
        4,
        "inspect_request",
        {"code": "x = np.array(a", "cursor_pos": 14, "detail_level": 1},
        "object_info_request",
        {"oname": "np.array", "detail_level": 1},
    ),
    (
        5,
        4,
        "inspect_reply",
        {"status": "ok", "found": True, "data": {"text/plain": "doc"}, "metadata": {}},
        "object_info_reply",
        {"found": False, "oname": "unknown"},
    ),
    (
        5,
        4,
        "kernel_info_reply",
        KERNEL_INFO_V5,
        "kernel_info_reply",
        {
            "protocol_version": [5, 4],
            "ipython_version": [8, 12],
            "language": "python",
            "language_version": [3, 11, 7],
        },
    ),
    (5, 4, "kernel_info_reply", {}, "kernel_info_reply", {"language": ""}),
    (5, 4, "stream", {"name": "stdout", "text": "hi"}, "stream", {"name": "stdout", "data": "hi"}),
    (
        5,
        4,
        "display_data",
        {"data": {"application/json": {"a": [1, None]}}, "metadata": {}},
        "display_data",
        {"data": {"application/json": '{"a": [1, null]}'}, "metadata": {}, "source": "display"},
    ),
    (5, 4, "input_request", {"prompt": "> ", "password": True}, "input_request", {"prompt": "> "}),
    (5, 4, "comm_msg", {"comm_id": "c", "data": {}}, "comm_msg", {"comm_id": "c", "data": {}}),
    (
        4,
        5,
        "execute_request",
        {"code": "1", "user_variables": ["a", "b"], "user_expressions": {"c": "2"}},
        "execute_request",
        {"code": "1", "user_expressions": {"c": "2", "a": "a", "b": "b"}},
    ),
    (
        4,
        5,
        "execute_reply",
        {
            "status": "ok",
            "user_variables": {"a": "1"},
            "payload": [{"source": "page", "text": "help"}, {"source": "set_next_input", "text": "x"}],
        },
        "execute_reply",
        {
            "status": "ok",
            "payload": [
                {"source": "page", "data": {"text/plain": "help"}},
                {"source": "set_next_input", "text": "x"},
            ],
            "user_expressions": {"a": "1"},
        },
    ),
    (4, 5, "pyout", {"data": {}}, "execute_result", {"data": {}}),
    (4, 5, "pyin", {"code": "x"}, "execute_input", {"code": "x"}),
    (4, 5, "pyerr", {"ename": "E"}, "error", {"ename": "E"}),
    (
        4,
        5,
        "complete_request",
        {"text": "pa", "line": "os.pa", "block": None, "cursor_pos": 5},
        "complete_request",
        {"code": "os.pa", "cursor_pos": 5},
    ),
    (
        4,
        5,
        "complete_reply",
        {"matches": ["os.path"], "matched_text": "os.pa"},
        "complete_reply",
        {"status": "ok", "matches": ["os.path"], "cursor_start": -5, "cursor_end": None, "metadata": {}},
    ),
    (
        4,
        5,
        "complete_reply",
        {"matches": ["x"], "matched_text": ""},
        "complete_reply",
        {"status": "ok", "matches": ["x"], "cursor_start": None, "cursor_end": None, "metadata": {}},
    ),
    (
        4,
        5,
        "object_info_request",
        {"oname": "os.path", "detail_level": 0},
        "inspect_request",
        {"code": "os.path", "cursor_pos": 7, "detail_level": 0},
    ),
    (
        4,
        5,
        "object_info_reply",
        {
            "found": True,
            "definition": "f(x)",
            "init_definition": "",
            "docstring": "Doc.",
            "call_docstring": None,
        },
        "inspect_reply",
        {"status": "ok", "found": True, "data": {"text/plain": "f(x)\nDoc."}, "metadata": {}},
    ),
    (
        4,
        5,
        "object_info_reply",
        {"found": True, "docstring": ""},
        "inspect_reply",
        {"status": "ok", "found": True, "data": {"text/plain": "<empty docstring>"}, "metadata": {}},
    ),
    (
        4,
        5,
        "object_info_reply",
        {"found": False, "oname": "nope"},
        "inspect_reply",
        {"status": "ok", "found": False, "data": {}, "metadata": {}},
    ),
    (
        4,
        5,
        "kernel_info_reply",
        KERNEL_INFO_V4,
        "kernel_info_reply",
        {
            "protocol_version": "4.1",
            "implementation": "ipython",
            "implementation_version": "2.3.0.dev",
            "language_info": {"name": "python", "version": "2.7.8"},
            "banner": "",
        },
    ),
    (
        4,
        5,
        "kernel_info_reply",
        {"language": "julia", "ipython_version": [1]},
        "kernel_info_reply",
        {"ipython_version": "1", "protocol_version": "4.1", "language_info": {"name": "julia"}, "banner": ""},
    ),
    (4, 5, "stream", {"name": "stderr", "data": "oops"}, "stream", {"name": "stderr", "text": "oops"}),
    (
        4,
        5,
        "display_data",
        {"source": "x", "data": {"application/json": '{"a": 1}'}, "metadata": {}},
        "display_data",
        {"data": {"application/json": {"a": 1}}, "metadata": {}},
    ),
    (
        4,
        5,
        "display_data",
        {"data": {"application/json": "{not json"}},
        "display_data",
        {"data": {"application/json": "{not json"}},
    ),
    (4, 5, "input_request", {"prompt": "> "}, "input_request", {"prompt": "> ", "password": False}),
]


def _ordered(obj):
    """Nested dicts as item lists, so comparisons see key order too (it reaches the wire)."""
    if isinstance(obj, dict):
        return [(key, _ordered(value)) for key, value in obj.items()]
    if isinstance(obj, (list, tuple)):
        return type(obj)(_ordered(item) for item in obj)
    return obj


@pytest.mark.parametrize(
    ("source", "target", "msg_type", "content", "new_type", "new_content"),
    CONVERSIONS,
    ids=[f"{c[2]}-v{c[0]}-to-v{c[1]}" for c in CONVERSIONS],
)
def test_conversion(source, target, msg_type, content, new_type, new_content):
    msg = make_msg(msg_type, copy.deepcopy(content), version="5.4" if source == 5 else None)
    result = adapt(msg, target)
    assert result is msg
    assert msg["msg_type"] == msg["header"]["msg_type"] == new_type
    assert _ordered(msg["content"]) == _ordered(new_content)
    assert msg["header"].get("version") == {4: None, 5: "5.0"}[target]


def test_message_type_maps_are_inverse():
    assert V4toV5.msg_type_map == {v: k for k, v in V5toV4.msg_type_map.items()}
    assert V5toV4.version == "4.1"


def test_unserialisable_json_data_is_left_alone():
    value = {1, 2}
    msg = make_msg("display_data", {"data": {"application/json": value}})
    adapt(msg, 4)
    assert msg["content"]["data"]["application/json"] is value


def test_subclass_handlers_follow_renames_and_reply_status():
    calls = []

    class Custom(adapter.Adapter):
        msg_type_map = {"old": "new"}

        def new(self, msg):
            calls.append("new")
            return msg

        def handle_reply_status_error(self, msg):
            calls.append("status")
            return msg

    custom = Custom()
    msg = make_msg("old", {})
    assert custom(msg) is msg
    assert msg["msg_type"] == msg["header"]["msg_type"] == "new"
    custom(make_msg("old", {"status": "aborted"}))
    custom(make_msg("other", {"status": "error"}))  # no handler: status not looked at
    assert calls == ["new", "status"]


# --- differential: the same outcome as jupyter_client 8.10 ---------------------------------------


@pytest.fixture(scope="module")
def reference():
    """jupyter_client 8.10's adapter module (a test dependency)."""
    pytest.importorskip("jupyter_client")
    import jupyter_client.adapter

    return jupyter_client.adapter


def test_public_names_match_the_reference(reference):
    public = {name for name in dir(reference) if not name.startswith("_")}
    assert public <= set(dir(adapter))
    for name in ("Adapter", "V5toV4", "V4toV5"):
        ours, theirs = getattr(adapter, name), getattr(reference, name)
        assert {a for a in dir(theirs) if not a.startswith("_")} == {
            a for a in dir(ours) if not a.startswith("_")
        }
        assert ours.msg_type_map == theirs.msg_type_map
        assert list(ours.msg_type_map) == list(theirs.msg_type_map)
    assert issubclass(V4toV5, adapter.Adapter) and issubclass(V5toV4, adapter.Adapter)
    assert V4toV5.version == reference.V4toV5.version
    assert V5toV4.version == reference.V5toV4.version
    assert adapter.protocol_version_info == reference.protocol_version_info
    assert adapt.__defaults__ == reference.adapt.__defaults__
    assert set(adapter.adapters) == set(reference.adapters)


NESTED = "ab(c(d)e)f.g(h"
UNSERIALISABLE = {1, 2}

V5_CONTENTS = {
    "execute_request": [
        {"code": "x = 1", "silent": False, "store_history": True, "user_expressions": {"a": "1+1"}},
        {"code": "x", "user_variables": ["kept"]},
        {},
    ],
    "execute_reply": [
        {"status": "ok", "execution_count": 3, "user_expressions": {}, "payload": []},
        {"status": "ok", "user_variables": {"x": 1}},
        {"status": "error", "ename": "NameError", "evalue": "x", "traceback": []},
        {"status": "aborted"},
        {"status": ["unhashable"]},
    ],
    "complete_request": [
        *({"code": CODE, "cursor_pos": pos} for pos in (0, 1, 9, 10, 11, 26, 27, 31, 40)),
        {"code": "", "cursor_pos": 3},
        {"code": "a\r\nb\rc\x0bd", "cursor_pos": 5},
        {"code": "abc"},
        {"code": "abc", "cursor_pos": None},
        {"code": CODE, "cursor_pos": float("nan")},
        {"code": "", "cursor_pos": None},
    ],
    "complete_reply": [
        {
            "matches": ["os.path", "os.pardir"],
            "cursor_start": 10,
            "cursor_end": 15,
            "metadata": {},
            "status": "ok",
        },
        {"matches": ["x"], "cursor_start": 4, "cursor_end": 4, "status": "ok"},
        {"matches": ["abc"], "cursor_start": 0, "cursor_end": 10},
        {"matches": [], "cursor_start": 1, "cursor_end": 2},
        {"matches": ["x"], "cursor_start": None, "cursor_end": None},
        {"cursor_start": None, "cursor_end": 1},
        {"cursor_start": 1},
        {"status": "error", "ename": "E"},
    ],
    "inspect_request": [
        *(
            {"code": code, "cursor_pos": len(code), "detail_level": 0}
            for code in (
                "os.path",
                "np.array(x",
                NESTED,
                "f()",
                "a() + b",
                "print(x)(y",
                "",
                "   ",
                "1abc",
                "obj[0].attr",
                "\u017felf.x",
                "\u212aey",
                "caf\u00e9",
                "x(\n",
                "((a)",
                "a)b(c",
            )
        ),
        *({"code": CODE, "cursor_pos": pos, "detail_level": 1} for pos in (0, 10, 20, 31)),
        {"code": "x.y", "cursor_pos": 3},
        {"code": "x.y", "cursor_pos": None, "detail_level": 0},
        {"cursor_pos": 0, "detail_level": 0},
    ],
    "inspect_reply": [
        {"status": "ok", "found": True, "data": {"text/plain": "doc"}, "metadata": {}},
        {"status": "ok", "found": False, "data": {}, "metadata": {}},
        {"status": "error", "ename": "E"},
    ],
    "history_request": [{"output": False, "raw": True, "hist_access_type": "tail", "n": 10}],
    "history_reply": [{"status": "ok", "history": [[0, 1, "x"]]}],
    "kernel_info_request": [{}],
    "kernel_info_reply": [
        KERNEL_INFO_V5,
        {
            "protocol_version": "5.4",
            "implementation": "xeus",
            "implementation_version": "1.0",
            "language_info": {},
        },
        {"implementation": "ipython", "language_info": {"name": "python"}},
        {"language_version": "3.x.1_0", "protocol_version": " 5 .+4.a", "language_info": {"version": "9"}},
        {"status": "error"},
        {"language_info": {"name": "r", "version": 4}},
        {},
    ],
    "stream": [
        {"name": "stdout", "text": "hi\n"},
        {"name": "stdout", "text": "a", "data": "b"},
        {"name": "x"},
    ],
    "display_data": [
        {"data": {"text/plain": "x", "application/json": {"a": [1, 2]}}, "metadata": {}, "transient": {}},
        {"data": {"application/json": UNSERIALISABLE}, "source": "kept"},
        {"data": {"text/plain": "x"}},
        {"source": "x"},
    ],
    "update_display_data": [
        {"data": {"application/json": {}}, "metadata": {}, "transient": {"display_id": "d"}}
    ],
    "execute_result": [{"execution_count": 1, "data": {"text/plain": "1"}, "metadata": {}}],
    "execute_input": [{"code": "1", "execution_count": 1}],
    "error": [{"ename": "E", "evalue": "v", "traceback": ["t"]}],
    "input_request": [{"prompt": "> ", "password": True}, {"prompt": "> "}],
    "input_reply": [{"value": "text"}],
    "comm_open": [{"comm_id": "c", "target_name": "t", "data": {"a": 1}}],
    "comm_msg": [{"comm_id": "c", "data": {}}],
    "comm_close": [{"comm_id": "c", "data": {}}],
    "comm_info_request": [{"target_name": "t"}],
    "comm_info_reply": [{"status": "ok", "comms": {}}],
    "status": [{"execution_state": "idle"}],
    "clear_output": [{"wait": True}],
    "shutdown_request": [{"restart": False}],
    "is_complete_request": [{"code": "for"}],
    "interrupt_reply": [{"status": "ok"}],
}

V4_CONTENTS = {
    "execute_request": [
        {"code": "x", "silent": False, "user_variables": ["a", "b"], "user_expressions": {"c": "1"}},
        {"code": "x", "user_variables": []},
        {"code": "x"},
        {"user_variables": "ab", "user_expressions": {"a": 0}},
    ],
    "execute_reply": [
        {
            "status": "ok",
            "execution_count": 1,
            "user_variables": {"a": "1"},
            "user_expressions": {"b": "2"},
            "payload": [
                {"source": "page", "text": "doc"},
                {"source": "page", "text": "x", "data": {"text/html": "<b>"}, "start": 0},
                {"source": "set_next_input", "text": "y"},
                {"source": "page"},
                {"text": "z"},
            ],
        },
        {"status": "ok", "user_variables": {}},
        {"status": "ok", "payload": [{"source": "page", "text": "t", "data": "not a dict"}]},
        {"status": "ok", "payload": ["not a dict"]},
        {"status": "ok", "payload": None},
        {"status": "error", "user_variables": {"a": 1}},
    ],
    "complete_request": [
        {"text": "pa", "line": "os.pa", "block": None, "cursor_pos": 5},
        {"line": "x"},
        {"cursor_pos": 1},
    ],
    "complete_reply": [
        {"matches": ["path", "pardir"], "matched_text": "pa", "status": "ok"},
        {"matches": ["x"], "matched_text": ""},
        {"matches": ["x"], "matched_text": None},
        {"matches": ["x"]},
        {"matched_text": "x"},
    ],
    "object_info_request": [
        {"oname": "os.path", "detail_level": 0},
        {"oname": "", "detail_level": 1},
        {"oname": "x"},
        {"oname": 3, "detail_level": 0},
        {"detail_level": 0},
    ],
    "object_info_reply": [
        {
            "name": "f",
            "found": True,
            "call_def": "f(x)",
            "init_definition": "F()",
            "definition": "d",
            "call_docstring": "",
            "init_docstring": "init doc",
            "docstring": "doc",
        },
        {"found": True, "definition": "d"},
        {"found": True, "docstring": "doc"},
        {"found": True},
        {"found": True, "definition": 3},
        {"found": 0, "docstring": "ignored"},
        {"found": False},
        {"definition": "d"},
        {"status": "aborted"},
    ],
    "kernel_info_request": [{}],
    "kernel_info_reply": [
        KERNEL_INFO_V4,
        {"protocol_version": [4, 1], "language": "julia", "ipython_version": [1, 0]},
        {"language": "python3", "language_version": [3, 4], "language_info": {"name": "kept"}},
        {"language": "python", "protocol_version": "4.1"},
        {"protocol_version": [4, 1]},
        {"language": 3},
        {"language": "python", "protocol_version": 4},
    ],
    "history_request": [{"output": False, "raw": True, "hist_access_type": "tail", "n": 10}],
    "history_reply": [{"history": [[0, 1, "x"]]}],
    "stream": [{"name": "stdout", "data": "hi"}, {"name": "stdout"}],
    "display_data": [
        {"source": "x", "data": {"application/json": '{"a": 1}'}, "metadata": {}},
        {"data": {"application/json": "{not json"}},
        {"data": {"application/json": {"already": "decoded"}}},
        {"data": {"image/png": "xxx"}},
        {"data": "not a dict"},
    ],
    "pyout": [{"execution_count": 1, "data": {"text/plain": "1"}, "metadata": {}}],
    "pyin": [{"code": "1", "execution_count": 1}],
    "pyerr": [{"ename": "E", "evalue": "v", "traceback": []}],
    "input_request": [{"prompt": "> "}, {"prompt": "> ", "password": True}],
    "input_reply": [{"value": "v"}],
    "comm_open": [{"comm_id": "c", "target_name": "t", "data": {}}],
    "comm_msg": [{"comm_id": "c", "data": {"x": [1]}}],
    "comm_close": [{"comm_id": "c", "data": {}}],
    "status": [{"execution_state": "busy"}],
}

# Message types that resolve to adapter attributes other than handlers.
ODD_TYPES = [
    "version",
    "msg_type_map",
    "update_header",
    "update_metadata",
    "update_msg_type",
    "handle_reply_status_error",
    "__doc__",
    "__module__",
    "__class__",
    "__dict__",
    "__weakref__",
    "__annotations__",
    "__init__",
    "__subclasshook__",
    "_version_parts",
    "_version_str_to_list",
]

HEADER_VERSIONS = [None, "4.1", "5.0", "5.4", "5", "6.0", " 5.4"]


def _corpus():
    for shape, contents in (("v5", V5_CONTENTS), ("v4", V4_CONTENTS)):
        for msg_type, variants in contents.items():
            for i, content in enumerate(variants):
                yield f"{shape}-{msg_type}-{i}", msg_type, content
    for msg_type in ODD_TYPES:
        yield f"odd-{msg_type}", msg_type, {}
        yield f"odd-{msg_type}-error", msg_type, {"status": "error"}


CORPUS = list(_corpus())


def outcome(adapt_function, msg, to_version):
    """What adapting a copy of ``msg`` does: result or error, and the state left behind."""
    msg = copy.deepcopy(msg)
    content = msg.get("content")
    try:
        result = adapt_function(msg, to_version)
    except Exception as exc:
        return ("raised", type(exc), str(exc), _ordered(msg), _ordered(content))
    same_content = isinstance(result, dict) and result.get("content") is content
    return ("returned", result is msg, same_content, _ordered(result), _ordered(content))


@pytest.mark.parametrize("to_version", [4, 5])
@pytest.mark.parametrize("header_version", HEADER_VERSIONS)
@pytest.mark.parametrize(("msg_type", "content"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_same_outcome_as_reference(reference, msg_type, content, header_version, to_version):
    msg = make_msg(msg_type, content, version=header_version, parent=parent_header(header_version))
    assert outcome(adapt, msg, to_version) == outcome(reference.adapt, msg, to_version)


@pytest.mark.parametrize("to_version", [4, 5])
@pytest.mark.parametrize(
    "parent", [{}, None, parent_header(None), parent_header("5.4")], ids=["empty", "missing", "v4", "v5"]
)
def test_same_parent_handling_as_reference(reference, parent, to_version):
    for header_version in (None, "5.4"):
        msg = make_msg("execute_reply", {"status": "ok"}, version=header_version, parent=parent)
        if parent is None:
            del msg["parent_header"]
        assert outcome(adapt, msg, to_version) == outcome(reference.adapt, msg, to_version)


def test_same_handlers_called_directly_as_reference(reference):
    # the adapter objects are public too: call each handler, bypassing status routing
    for ours, theirs in ((V5toV4(), reference.V5toV4()), (V4toV5(), reference.V4toV5())):
        for _, msg_type, content in CORPUS:
            handler = getattr(theirs, msg_type, None)
            if not callable(handler) or msg_type.startswith("_"):
                continue
            msg = make_msg(msg_type, content)
            ours_handler = getattr(ours, msg_type)
            assert outcome(lambda m, _, h=ours_handler: h(m), msg, None) == outcome(
                lambda m, _, h=handler: h(m), msg, None
            ), msg_type


def test_missing_date_fill_matches_reference(reference):
    msg = make_msg("status", {}, version=None, date=None)
    ours, theirs = adapt(copy.deepcopy(msg)), reference.adapt(copy.deepcopy(msg))
    assert abs(ours["header"].pop("date") - theirs["header"].pop("date")) < timedelta(seconds=5)
    assert ours == theirs


TEXT = st.text(alphabet="ab_.9 ()[]\n\r\u212a\u017f\u00e9", max_size=30)


@given(code=TEXT, cursor_pos=st.integers(-3, 40))
def test_code_helpers_match_reference(reference, code, cursor_pos):
    assert code_to_line(code, cursor_pos) == reference.code_to_line(code, cursor_pos)
    assert extract_oname_v4(code, cursor_pos) == reference.extract_oname_v4(code, cursor_pos)


@given(version=st.text(alphabet="0123456789._+- ab\u0663", max_size=12))
def test_version_lists_match_reference(reference, version):
    content = {"protocol_version": version, "implementation": "ipython", "implementation_version": version}
    msg = make_msg("kernel_info_reply", content, parent=parent_header())
    assert outcome(adapt, msg, 4) == outcome(reference.adapt, msg, 4)


@given(version=st.text(alphabet="0123456789. x", max_size=6))
def test_header_version_parsing_matches_reference(reference, version):
    msg = make_msg("stream", {"name": "stdout", "text": "t", "data": "d"}, version=version)
    for to_version in (4, 5):
        assert outcome(adapt, msg, to_version) == outcome(reference.adapt, msg, to_version)


def test_json_encoding_matches_reference(reference):
    data = {"s": "caf\u00e9 \u2603", "f": 1.5, "n": None, "nested": [{"b": 1, "a": 2}]}
    msg = make_msg("display_data", {"data": {"application/json": data}})
    ours = adapt(copy.deepcopy(msg), 4)["content"]["data"]["application/json"]
    assert ours == reference.adapt(copy.deepcopy(msg), 4)["content"]["data"]["application/json"]
    assert json.loads(ours) == data
