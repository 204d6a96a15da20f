"""Old name of helpers.samples, kept so `python -m helpers.data build|info` keeps working."""

import sys

from .samples import build_samples, main

__all__ = ["build_samples", "main"]

if __name__ == "__main__":
    sys.exit(main())
