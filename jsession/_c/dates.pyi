"""Date extraction over unpacked JSON: the interface of ``jsession._c.dates`` and its twin
``jsession._py.dates``.

``extract_dates(obj, slow_parse)`` returns a new object with the same shape as
``jupyter_client.jsonutil.extract_dates(obj)`` would give:

- a dict (or subclass) becomes a new plain dict with the same keys in the same order;
- a list or tuple (or subclass) becomes a new list;
- a str (or subclass) in the common form ``YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+HH:MM|+HHMM)``
  (ASCII digits, fields in range, hour 0-23, offset below 24:00) becomes an aware datetime
  built directly: ``timezone.utc`` for a zero offset, else a shared ``timezone(timedelta)``;
- any other str that might match ``jsonutil.ISO8601_PAT`` becomes ``slow_parse(s)``: that is
  where naive dates, ``T24:00:00``, bad fields and their warnings or errors are handled;
- every other value is returned as is (the same object).

Input nested deeper than the interpreter's recursion limit raises RecursionError.
"""

from collections.abc import Callable
from typing import Any

__all__ = ["extract_dates"]

def extract_dates(obj: Any, slow_parse: Callable[[str], Any]) -> Any: ...
