"""``python -m helpers.samples build [--out DIR] [--force]`` or ``info [--out DIR]``."""

import sys

from .cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
