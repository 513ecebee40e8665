"""The registry of sections: each section is a module of this package defining ``SECTION``.

A new section is a module here plus its name in ``SECTION_MODULES``, in the order its cases
should run and be shown. A module that cannot be imported (its extra is not installed) is
left out, and said so by ``--list``. Such a module, say ``kernels.py``, holds::

    register(Impl("ipykernel", "ipykernel 7", "kernel", short="ipykernel"), ...)  # impls.register
    SECTION = Section(
        "kernel",
        "real kernel processes",
        (Case("iopub_64k", "...", ("jsession", "ipykernel", "pub-floor"), make_iopub,
              (Target("vs_floor", 1.2),), baseline="ipykernel", floor=("pub-floor",)),),
        default=False,  # slow: run with --section kernel
        table="kernel",  # a table of its own, with its own columns
    )

where ``make_iopub(impl, env)`` returns an ``Op`` (its ``close`` stops what it started), or
the Case gives ``run=`` to measure some other way (see ``memory.run_big_case``).
"""

from __future__ import annotations

import importlib

from jsession.bench.case import Case, Section

SECTION_MODULES = ("session_cases", "transport_cases", "kernels", "stack")

SECTIONS: dict[str, Section] = {}
#: modules that could not be imported, with why
UNAVAILABLE: dict[str, str] = {}

for _module in SECTION_MODULES:
    try:
        _section = importlib.import_module(f"jsession.bench.{_module}").SECTION
    except ImportError as exc:
        UNAVAILABLE[_module] = str(exc)
        continue
    SECTIONS[_section.name] = _section

#: every case of every section, by name (names are unique across sections)
CASES: dict[str, Case] = {}
for _section in SECTIONS.values():
    for _case in _section.cases:
        if _case.name in CASES:
            raise RuntimeError(f"two benchmark cases are named {_case.name!r}")
        CASES[_case.name] = _case


def section_of(case_name: str) -> Section:
    for section in SECTIONS.values():
        if any(case.name == case_name for case in section.cases):
            return section
    raise KeyError(case_name)


def select(section_names: list[str] | None, case_names: list[str] | None) -> list[Case]:
    """The cases to run, in registry order: the named cases, else the named sections' cases,
    else the default sections' cases."""
    if case_names:
        return [case for case in CASES.values() if case.name in case_names]
    if section_names:
        sections = [SECTIONS[name] for name in SECTIONS if name in section_names]
    else:
        sections = [section for section in SECTIONS.values() if section.default]
    return [case for section in sections for case in section.cases]
