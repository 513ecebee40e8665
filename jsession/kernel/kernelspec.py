"""The "Python 3 (jsession)" kernelspec: ipykernel's spec, launched through jsession."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import typing as t
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager

__all__ = ["DEFAULT_DISPLAY_NAME", "DEFAULT_NAME", "install", "kernel_dict", "main"]

DEFAULT_NAME = "python3-jsession"
DEFAULT_DISPLAY_NAME = "Python 3 (jsession)"


def kernel_dict(display_name: str = DEFAULT_DISPLAY_NAME) -> dict[str, t.Any]:
    """The kernel.json contents: the installed ipykernel's own spec (language, protocol
    version, debugger and encryption metadata), launched with ``-m jsession.kernel``."""
    from ipykernel.kernelspec import get_kernel_dict

    spec = get_kernel_dict()
    spec["argv"] = [sys.executable, "-m", "jsession.kernel", "-f", "{connection_file}"]
    spec["display_name"] = display_name
    return spec


def install(
    user: bool = False,
    name: str = DEFAULT_NAME,
    display_name: str = DEFAULT_DISPLAY_NAME,
    prefix: str | None = None,
    kernel_spec_manager: KernelSpecManager | None = None,
) -> str:
    """Install the kernelspec with jupyter_client's KernelSpecManager; returns its directory.

    Where it goes is the manager's choice: the user's Jupyter data directory with
    ``user``, ``PREFIX/share/jupyter/kernels/NAME`` with ``prefix``, else the system-wide
    one. An existing spec of the same name is replaced.
    """
    from ipykernel.kernelspec import RESOURCES  # the Python logos

    manager = kernel_spec_manager or KernelSpecManager()
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp, name)
        shutil.copytree(RESOURCES, staged)
        with open(staged / "kernel.json", "w") as f:
            json.dump(kernel_dict(display_name), f, indent=1)
        return manager.install_kernel_spec(str(staged), name, user=user, prefix=prefix)


def main(argv: list[str] | None = None) -> int:
    """``python -m jsession.kernel install [options]``."""
    parser = argparse.ArgumentParser(
        prog="python -m jsession.kernel install",
        description=f"Install a Jupyter kernelspec that runs ipykernel on jsession "
        f"(display name {DEFAULT_DISPLAY_NAME!r}).",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="install for the current user only")
    where.add_argument("--prefix", help="install under PREFIX/share/jupyter/kernels")
    where.add_argument(
        "--sys-prefix",
        action="store_const",
        const=sys.prefix,
        dest="prefix",
        help=f"install under sys.prefix ({sys.prefix}), for a virtualenv or conda env",
    )
    parser.add_argument("--name", default=DEFAULT_NAME, help=f"kernel name (default {DEFAULT_NAME})")
    parser.add_argument(
        "--display-name",
        default=DEFAULT_DISPLAY_NAME,
        help=f"name shown in Jupyter's launcher (default {DEFAULT_DISPLAY_NAME!r})",
    )
    args = parser.parse_args(argv)
    try:
        path = install(user=args.user, name=args.name, display_name=args.display_name, prefix=args.prefix)
    except PermissionError as e:
        print(f"{e}\nNot allowed to write there: try --user or --sys-prefix.", file=sys.stderr)
        return 1
    except ValueError as e:  # an invalid kernel name
        parser.error(str(e))
    print(f"Installed kernelspec {args.name} in {path}")
    return 0
