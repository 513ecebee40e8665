"""Benchmarks: jsession side by side with jupyter_client 8.10 and raw pyzmq, in one process.

Run ``python -m jsession.bench`` (``--help`` for the options, ``--list`` for the sections and
cases). Every case runs every implementation taking part in it on the same data, in turns: for
each repeat the implementations take one timed batch each, in a rotating order, and the best
batch of each is quoted. Only ratios taken from one run mean anything on a shared machine.

The package, one concept a module:

- ``impls``: the implementations under test (``Impl``, the ``IMPLS`` registry)
- ``case``: what a case is (``Op``, ``Target``, ``Case``, ``Section``)
- ``sections``: the registry of sections; a section is a module defining ``SECTION``
- ``session_cases``, ``transport_cases``: the sections measured by default
- ``payloads``: the message contents the cases send
- ``env``: what the cases share (a zmq context, ipc endpoints, a pool of signed messages)
- ``runner``: interleaved timing, calibration, ``Settings``, ``CaseResult``, progress
- ``memory``: the 1 GiB receive, in processes of its own, and its peak RSS
- ``report``: the table, the JSON and the machine's description
- ``chart``: the bar chart (matplotlib)
- ``cli``: the command line

The cases defined here are also what the pytest-benchmark suite in ``bench/`` times, so both
report on exactly the same work.
"""

from __future__ import annotations

from jsession.bench.case import TARGET_KINDS, Case, Op, Section, Target
from jsession.bench.cli import main
from jsession.bench.env import Env
from jsession.bench.impls import IMPLS, KEY, Impl
from jsession.bench.memory import measure_big_recv
from jsession.bench.payloads import GiB, MiB
from jsession.bench.runner import CaseResult, Settings, run
from jsession.bench.sections import CASES, SECTIONS

__all__ = [
    "CASES",
    "IMPLS",
    "KEY",
    "SECTIONS",
    "TARGET_KINDS",
    "Case",
    "CaseResult",
    "Env",
    "GiB",
    "Impl",
    "MiB",
    "Op",
    "Section",
    "Settings",
    "Target",
    "main",
    "measure_big_recv",
    "run",
]
