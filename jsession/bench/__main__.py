"""``python -m jsession.bench``: see ``jsession.bench.cli``."""

import sys

from jsession.bench.cli import main

sys.exit(main())
