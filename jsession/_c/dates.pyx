# cython: language_level=3, boundscheck=False, wraparound=False
# cython: freethreading_compatible = True
"""Turn ISO 8601 strings inside unpacked JSON into aware datetimes, quickly.

The interface is documented in ``dates.pyi``; ``jsession._py.dates`` is the pure-Python twin.
Only the common form ``YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM|+HHMM)`` is parsed here, by
hand; every other string that might be a date goes to the caller's ``slow_parse``.
"""

from cpython.datetime cimport datetime_new, get_utc, import_datetime
from cpython.dict cimport PyDict_Copy, PyDict_Next
from cpython.object cimport PyObject
from cpython.unicode cimport (
    PyUnicode_1BYTE_DATA,
    PyUnicode_1BYTE_KIND,
    PyUnicode_DATA,
    PyUnicode_GET_LENGTH,
    PyUnicode_KIND,
    PyUnicode_READ,
)

from datetime import timedelta, timezone

__all__ = ["extract_dates"]

cdef extern from *:
    """
    /* Strings built through the legacy wchar API (gone in 3.12) must be made ready first. */
    #if PY_VERSION_HEX < 0x030C0000
    #define jsession_str_ready(o) PyUnicode_READY(o)
    #else
    #define jsession_str_ready(o) 0
    #endif
    /* Py_EnterRecursiveCall signals an error with any non-zero value: make it -1. */
    #define jsession_enter_container() (Py_EnterRecursiveCall(" while extracting dates") ? -1 : 0)
    """
    int jsession_str_ready(object) except -1
    int jsession_enter_container() except -1

cdef extern from "Python.h":
    ctypedef unsigned char Py_UCS1
    void Py_LeaveRecursiveCall()

import_datetime()

cdef enum:
    # Lengths a string matching jsonutil.ISO8601_PAT can have (19 + 7 fraction + 6 offset + "\n").
    _MIN_LEN = 19
    _MAX_LEN = 33
    # Offsets in minutes range over -23:59..+23:59: one cached zone each, made on first use.
    _MAX_OFFSET = 23 * 60 + 59

# One call's count of the points where Python code may have run and changed a dict being
# copied (a slow_parse call, a subclass's items() or __iter__, a key's __hash__), kept on
# the caller's stack so threads never share it. Once it moves, a dict copy stops trusting
# its snapshot and stores every remaining value, as the reference would.
ctypedef size_t ran_t

cdef object _UTC = get_utc()
# filled on first use; two threads making the same zone store equal objects (list items
# are set atomically, with or without the GIL)
cdef list _ZONES = [None] * (2 * _MAX_OFFSET + 1)


cdef object _zone(int minutes):
    """A shared ``timezone`` for a non-zero offset in minutes (|minutes| <= _MAX_OFFSET)."""
    cdef object tz = _ZONES[minutes + _MAX_OFFSET]
    if tz is None:
        tz = timezone(timedelta(minutes=minutes))
        _ZONES[minutes + _MAX_OFFSET] = tz
    return tz


cdef inline int _two(const Py_UCS1 *p) noexcept:
    """Value of two ASCII digits, or -1."""
    cdef unsigned int hi = p[0] - 48, lo = p[1] - 48  # unsigned: anything below '0' wraps high
    if hi > 9 or lo > 9:
        return -1
    return <int>(hi * 10 + lo)


cdef inline int _days_in_month(int year, int month) noexcept:
    if month == 2:
        if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
            return 29
        return 28
    if month == 4 or month == 6 or month == 9 or month == 11:
        return 30
    return 31


cdef object _parse_common(const Py_UCS1 *p, Py_ssize_t n):
    """The aware datetime for a string in the common form, or None for anything else."""
    cdef int year, month, day, hour, minute, second, usec = 0, sign, oh, om, hi, lo
    cdef Py_ssize_t pos = 19, start, digits

    if p[4] != c'-' or p[7] != c'-' or p[10] != c'T' or p[13] != c':' or p[16] != c':':
        return None
    hi = _two(p)
    lo = _two(p + 2)
    month = _two(p + 5)
    day = _two(p + 8)
    hour = _two(p + 11)
    minute = _two(p + 14)
    second = _two(p + 17)
    if hi < 0 or lo < 0:
        return None
    year = hi * 100 + lo
    # Out-of-range fields (year 0, T24:00, second 60...) are left to slow_parse and its errors.
    if year < 1 or month < 1 or month > 12 or hour < 0 or hour > 23 or minute < 0 or minute > 59:
        return None
    if second < 0 or second > 59 or day < 1 or day > _days_in_month(year, month):
        return None

    if pos >= n:  # naive: slow_parse warns
        return None
    if p[pos] == c'.':
        pos += 1
        start = pos
        while pos < n and pos - start < 7 and c'0' <= p[pos] <= c'9':
            usec = usec * 10 + (p[pos] - c'0')
            pos += 1
        digits = pos - start
        if digits == 0 or digits > 6 or pos >= n:
            return None
        while digits < 6:
            usec *= 10
            digits += 1

    if p[pos] == c'Z':
        if pos + 1 != n:
            return None
        return datetime_new(year, month, day, hour, minute, second, usec, _UTC)

    if p[pos] == c'+':
        sign = 1
    elif p[pos] == c'-':
        sign = -1
    else:
        return None
    if n - pos == 6 and p[pos + 3] == c':':
        om = _two(p + pos + 4)
    elif n - pos == 5:
        om = _two(p + pos + 3)
    else:
        return None
    oh = _two(p + pos + 1)
    if oh < 0 or oh > 23 or om < 0 or om > 59:
        return None
    if oh == 0 and om == 0:
        return datetime_new(year, month, day, hour, minute, second, usec, _UTC)
    return datetime_new(year, month, day, hour, minute, second, usec, _zone(sign * (oh * 60 + om)))


cdef object _from_str(object s, object slow_parse, ran_t *ran):
    cdef Py_ssize_t n
    cdef int kind
    cdef void *data
    cdef object parsed

    jsession_str_ready(s)
    n = PyUnicode_GET_LENGTH(s)
    if n < _MIN_LEN or n > _MAX_LEN:
        return s
    kind = PyUnicode_KIND(s)
    data = PyUnicode_DATA(s)
    if PyUnicode_READ(kind, data, 4) != c'-' or PyUnicode_READ(kind, data, 10) != c'T':
        return s
    # Wider kinds hold a non-Latin-1 character: never the common form.
    if kind == PyUnicode_1BYTE_KIND:
        parsed = _parse_common(PyUnicode_1BYTE_DATA(s), n)
        if parsed is not None:
            return parsed
    ran[0] += 1
    return slow_parse(s)


cdef object _extract(object obj, object slow_parse, ran_t *ran):
    cdef type kind = type(obj)
    cdef size_t start
    cdef dict out
    if kind is str:
        return _from_str(obj, slow_parse, ran)
    if kind is dict or kind is list or kind is tuple:
        # Self-referencing or absurdly deep input raises RecursionError, as the reference does.
        jsession_enter_container()
        try:
            if kind is dict:
                # Copy, then store only what changed: most header values are left as they are.
                out = PyDict_Copy(obj)
                start = ran[0]
                for key, value in (<dict>obj).items():
                    new = _extract(value, slow_parse, ran)
                    if new is not value or ran[0] != start:
                        ran[0] += 1  # hashing the key may run Python code
                        out[key] = new
                return out
            if kind is list:
                return [_extract(item, slow_parse, ran) for item in <list>obj]
            return [_extract(item, slow_parse, ran) for item in <tuple>obj]
        finally:
            Py_LeaveRecursiveCall()
    if isinstance(obj, (dict, list, tuple)):
        # Subclasses go through their own items() / __iter__, as the reference's loops do.
        ran[0] += 1
        jsession_enter_container()
        try:
            if isinstance(obj, dict):
                out = {}
                for key, value in obj.items():
                    out[key] = _extract(value, slow_parse, ran)
                return out
            return [_extract(item, slow_parse, ran) for item in obj]
        finally:
            Py_LeaveRecursiveCall()
    if isinstance(obj, str):
        return _from_str(obj, slow_parse, ran)
    return obj


cdef object extract(object obj, object slow_parse):
    cdef ran_t ran = 0
    return _extract(obj, slow_parse, &ran)


cdef object extract_owned(object obj, object slow_parse):
    # extract, but a flat dict with str keys that nothing else references (just unpacked:
    # no Python code, slow_parse included, can reach it) has its dates replaced in place,
    # without the copy; anything else, the general way
    cdef ran_t ran = 0
    cdef Py_ssize_t pos = 0
    cdef PyObject *key
    cdef PyObject *value
    if type(obj) is not dict:
        return _extract(obj, slow_parse, &ran)
    while PyDict_Next(obj, &pos, &key, &value):
        if type(<object>key) is not str or isinstance(<object>value, (dict, list, tuple)):
            return _extract(obj, slow_parse, &ran)
    pos = 0
    while PyDict_Next(obj, &pos, &key, &value):
        if isinstance(<object>value, str):
            new = _from_str(<object>value, slow_parse, &ran)
            if new is not <object>value:
                obj[<object>key] = new  # an existing key: the same size, the same order
    return obj


def extract_dates(obj, slow_parse):
    """Copy of ``obj`` with date strings replaced by aware datetimes (see dates.pyi)."""
    return extract(obj, slow_parse)
