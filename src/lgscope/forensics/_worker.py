"""A scan worker process: ``python -m lgscope.forensics._worker FD`` (started by `LocalProcesses`)."""

from __future__ import annotations

import os
import sys

from lgscope.forensics._executor import serve

if __name__ == "__main__":
    # argv[1]: the pipe the parent reads results from (stdout is left to whatever prints)
    with os.fdopen(int(sys.argv[1]), "wb") as results:
        serve(sys.stdin.buffer, results)
