"""Canonical records ⇄ plain JSON-ready values, driven by the dataclasses' own type hints.

Decimals travel as strings (never floats), datetimes as ISO 8601, enums as their
values. Fields that are not part of a record's state (`init=False`, or `events`,
which a reloaded order starts without) are skipped."""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")
_SKIPPED = frozenset({"events"})


def to_plain(value: Any) -> Any:
    """A dataclass (or list, dict, Decimal, ...) as JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: to_plain(getattr(value, name)) for name in _fields(type(value))}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    return value


def from_plain(cls: type[T], data: Any) -> T:
    """Rebuild a `cls` from `to_plain` output; the record's own checks run again."""
    return _build(cls, data)


@cache
def _fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.init and f.name not in _SKIPPED)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(tp: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return _build(options[0], data) if len(options) == 1 else data
    if origin in (tuple, list):
        args = typing.get_args(tp)
        item = args[0] if args else Any
        built = [_build(item, v) for v in data]
        return tuple(built) if origin is tuple else built
    if origin is dict:
        key_t, val_t = typing.get_args(tp) or (Any, Any)
        return {k: _build(val_t, v) for k, v in data.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        return tp(**{name: _build(hints[name], data[name]) for name in _fields(tp) if name in data})
    if tp is Decimal:
        return Decimal(data)
    if tp is datetime:
        return datetime.fromisoformat(data)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(data)
    return data
