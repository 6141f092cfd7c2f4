"""``python -m hotmod``: the command line (``python -m hotmod --help``)."""

from __future__ import annotations

import sys

from hotmod._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
