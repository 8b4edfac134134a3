"""Connector for the Tryton ERP (JSON-RPC)."""

from .client import TrytonClient

__all__ = ["TrytonClient"]
