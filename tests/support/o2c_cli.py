"""`crossdock` with only the command groups the order-to-cash harness uses.

    python -m tests.support.o2c_cli serve|sandbox|apply|exceptions ...

For running the harness while another command group of the shared tree is half-written
(set CROSSDOCK_O2C_ISOLATED_CLI=1); the commands themselves are the real ones."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

import typer

# The package without its __init__ (which registers every group, finished or not).
_spec = importlib.util.find_spec("crossdock.cli")
_pkg = types.ModuleType("crossdock.cli")
_pkg.__path__ = list(_spec.submodule_search_locations)
sys.modules.setdefault("crossdock.cli", _pkg)

app = typer.Typer(no_args_is_help=True)
for name in ("apply", "exceptions", "messages", "serve", "sandbox"):
    importlib.import_module(f"crossdock.cli.{name}").register(app)

if __name__ == "__main__":
    app()
