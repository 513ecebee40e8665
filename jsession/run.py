"""``python -m jsession run CMD [ARGS...]``: CMD, and every Python process started beneath it,
on jsession.

The command runs with ``JSESSION_SWITCH=1`` and jsession's bootstrap directory first on
PYTHONPATH. Python imports the ``sitecustomize`` module in that directory at startup (in CMD
if it is Python, and in each Python process it starts: kernels, engines, workers, which inherit
the environment), and that module turns ``jsession.install()`` on for the process, as tracing
tools such as ``opentelemetry-instrument`` and ``ddtrace-run`` do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping

__all__ = ["BOOTSTRAP_DIR", "SWITCH_ENV", "main", "switched_environment"]

#: The directory put first on PYTHONPATH (it holds only ``sitecustomize.py``).
BOOTSTRAP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_bootstrap")

#: The environment variable that turns the switch on in a process with the bootstrap.
SWITCH_ENV = "JSESSION_SWITCH"

USAGE = """\
usage: python -m jsession run CMD [ARGS...]

Run CMD with jupyter_client's Session replaced by jsession's in CMD and in every Python
process started beneath it (kernels, engines, workers). Examples:

  python -m jsession run jupyter lab
  python -m jsession run jupyter execute notebook.ipynb
  python -m jsession run ipcluster start -n 4
  python -m jsession run pytest
"""


def switched_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default ``os.environ``) with the switch on for Python processes."""
    env = dict(os.environ if environ is None else environ)
    path = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != BOOTSTRAP_DIR]
    env["PYTHONPATH"] = os.pathsep.join([BOOTSTRAP_DIR, *path])
    env[SWITCH_ENV] = "1"
    return env


def main(argv: list[str]) -> int:
    """Run ``argv`` switched; returns its exit status (on POSIX the process becomes it)."""
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="", file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    env = switched_environment()
    executable = shutil.which(argv[0], path=env.get("PATH"))
    if executable is None:
        print(f"jsession run: command not found: {argv[0]}", file=sys.stderr)
        return 127
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execve(executable, argv, env)  # signals and the exit status are CMD's own
    return subprocess.call([executable, *argv[1:]], env=env)
