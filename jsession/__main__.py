"""``python -m jsession run CMD [ARGS...]`` (also the ``jsession`` command): see ``jsession.run``."""

from __future__ import annotations

import sys

USAGE = """\
usage: jsession run CMD [ARGS...]   run CMD with jupyter_client's Session replaced by jsession's
                                    (in CMD and in every Python process beneath it)
"""


def main(argv: list[str] | None = None) -> int:
    """The ``jsession`` command line."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["run"]:
        from .run import main as run

        return run(args[1:])
    print(USAGE, end="", file=sys.stdout if args[:1] in (["-h"], ["--help"]) else sys.stderr)
    return 0 if args[:1] in (["-h"], ["--help"]) else 2


if __name__ == "__main__":
    sys.exit(main())
