"""`crossdock` with an experiment applied first: `python -m bench.serve_launcher serve ...`.

Only for what-if runs of `python -m bench intake --switch-interval S`: sets the GIL switch
interval of the server process (CPython's default is 0.005 s) before the CLI starts."""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    interval = float(os.environ.get("CROSSDOCK_BENCH_SWITCH_INTERVAL") or 0)
    if interval:
        sys.setswitchinterval(interval)
    from crossdock.cli import app

    app(prog_name="crossdock")
