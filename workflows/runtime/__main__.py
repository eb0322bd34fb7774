"""``python -m workflows.runtime APP [ARGS...]`` (see :mod:`workflows.runtime.launcher`)."""

import sys

from workflows.runtime.launcher import main

if __name__ == "__main__":
    sys.exit(main())
