"""``python -m jsession.kernel -f CONNECTION_FILE [ipykernel options]`` runs the kernel;
``python -m jsession.kernel install [--user] [--name NAME] [--display-name NAME]
[--prefix PREFIX | --sys-prefix]`` installs its kernelspec."""

import sys


def _main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["install"]:
        from .kernelspec import main as install

        sys.exit(install(argv[1:]))
    from .app import main as run

    run(argv)


if __name__ == "__main__":
    _main()
