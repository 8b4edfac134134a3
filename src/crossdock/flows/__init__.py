"""Business flows: one handler per message kind, grouped by flow."""

from __future__ import annotations

from crossdock.engine.handlers import Registry


def register_all(registry: Registry) -> None:
    """Add every flow's handlers. Each flow module exposes `register(registry)`."""
    import importlib

    for name in FLOWS:
        importlib.import_module(f"crossdock.flows.{name}").register(registry)


FLOWS: list[str] = ["system", "relay", "orders", "inventory", "pricing", "catalog", "availability"]
