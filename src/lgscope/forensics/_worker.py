"""A scan worker process: ``python -m lgscope.forensics._worker`` (started by `scan`)."""

from __future__ import annotations

import sys

from lgscope.forensics._scan import serve

if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
