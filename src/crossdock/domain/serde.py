"""Canonical records ⇄ plain JSON-ready values, driven by the dataclasses' own type hints.

Decimals travel as strings (never floats), datetimes as ISO 8601, enums as their
values. Fields that are not part of a record's state (`init=False`, or `events`,
which a reloaded order starts without) are skipped."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")
_SKIPPED = frozenset({"events"})


_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


def to_plain(value: Any) -> Any:
    """A dataclass (or list, dict, Decimal, ...) as JSON-ready values."""
    tp = type(value)
    if tp in _PLAIN_TYPES:  # most values: skip the checks below (exact types: a StrEnum is not one)
        return value
    if hasattr(tp, "__dataclass_fields__"):
        return {name: to_plain(getattr(value, name)) for name in _fields(tp)}
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
    return _builder(cls)(data)


@cache
def _fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.init and f.name not in _SKIPPED)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _same(data: Any) -> Any:
    return data


@cache
def _builder(tp: Any) -> Callable[[Any], Any]:
    """The function that rebuilds a `tp` from plain data, worked out once per type.

    Why: every order step rebuilds its order from JSON; inspecting the type hints of every
    value on every call (`typing.get_origin` and friends) was most of that cost."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(options) != 1:
            return _same
        inner = _builder(options[0])
        return lambda data: None if data is None else inner(data)
    if origin in (tuple, list):
        args = typing.get_args(tp)
        item = _builder(args[0] if args else Any)
        if origin is tuple:
            return lambda data: None if data is None else tuple([item(v) for v in data])
        return lambda data: None if data is None else [item(v) for v in data]
    if origin is dict:
        value = _builder((typing.get_args(tp) or (Any, Any))[1])
        return lambda data: None if data is None else {k: value(v) for k, v in data.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _record_builder(tp)
    if tp is Decimal:
        return lambda data: None if data is None else Decimal(data)
    if tp is datetime:
        return lambda data: None if data is None else datetime.fromisoformat(data)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return lambda data: None if data is None else tp(data)
    return _same


def _record_builder(tp: type) -> Callable[[Any], Any]:
    fields: tuple[tuple[str, Callable[[Any], Any]], ...] = ()  # set on first use: records may nest themselves

    def build(data: Any) -> Any:
        nonlocal fields
        if data is None:
            return None
        if not fields:
            hints = _hints(tp)
            fields = tuple((name, _builder(hints[name])) for name in _fields(tp))
        return tp(**{name: fn(data[name]) for name, fn in fields if name in data})

    return build
