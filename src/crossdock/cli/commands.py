"""Registers every command group on the `crossdock` app."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Each group module exposes `register(app)`; add new groups to this list."""
    import importlib

    for name in _GROUPS:
        importlib.import_module(f"crossdock.cli.{name}").register(app)


_GROUPS: list[str] = [
    "apply",
    "secrets",
    "audit",
    "messages",
    "exceptions",
    "purge",
    "serve",
    "worker",
    "sandbox",
    "apikeys",
    "orders",
    "catalog",
    "users",
    "demo",
    "prices",
    "availability",
]
