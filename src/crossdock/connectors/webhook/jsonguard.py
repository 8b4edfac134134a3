"""Strict JSON for intake: a body either is one clean JSON object or is refused with a reason.

Refused: invalid UTF-8 (and a byte order mark), anything that is not RFC 8259 JSON
(NaN, Infinity, trailing commas, comments, trailing content), lone surrogates,
numbers too large for a double, duplicate object keys, containers nested deeper
than `MAX_DEPTH`, and (by default) a top level that is not an object.

Fast path, for the common clean body: orjson parses (it is strict about everything
above except duplicate keys and our depth limit), then orjson re-encodes the result
with indentation, and two C-speed checks run on that text:
- depth: a container nested at level MAX_DEPTH + 1 is printed on a line indented by
  2·MAX_DEPTH spaces, so a plain substring search rules deep bodies out;
- duplicates: outside strings, every ':' separates one member, and orjson never
  escapes ':' inside strings. When the body has no escaped colon (`\\u003a`), the
  body and the re-encoding hold the same number of ':' exactly when no member was
  dropped, i.e. when no key repeats in an object.
Anything suspicious goes to the slow path (Python's json with hooks), which finds the
precise reason and position. Measured numbers are in the module's tests' docstring.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

MAX_DEPTH = 64
_DEEP_LINE = b"\n" + b" " * (2 * MAX_DEPTH)
_ESCAPED_COLON = re.compile(rb"\\u003a", re.IGNORECASE)
_CONTAINER_AT_LIMIT = re.compile(rb'\n {%d}(?:"(?:[^"\\]|\\.)*": )?[\[{]' % (2 * MAX_DEPTH))


class JsonRefused(Exception):
    """Why a body is not acceptable JSON. `code` is stable, `message` says where."""

    def __init__(self, code: str, message: str, hint: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code  # json.utf8 | json.syntax | json.constant | json.duplicate_key | json.too_deep | json.not_object
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Parsed:
    text: str  # the body as received, decoded (safe to splice into a larger JSON text)
    value: Any


def decode_utf8(body: bytes) -> str:
    """The body as text; invalid UTF-8 or a byte order mark is refused."""
    if body.startswith(b"\xef\xbb\xbf"):
        raise JsonRefused(
            "json.utf8", "the body starts with a UTF-8 byte order mark", "Send JSON without a BOM."
        )
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonRefused(
            "json.utf8",
            f"the body is not valid UTF-8: byte 0x{body[exc.start]:02x} at offset {exc.start}",
            "JSON must be encoded as UTF-8.",
        ) from None


def parse(body: bytes, *, text: str | None = None, require_object: bool = True) -> Parsed:
    """Parse an intake body strictly; raise JsonRefused with a precise reason otherwise.
    `text` is the body already decoded by `decode_utf8`, when the caller has it."""
    text = decode_utf8(body) if text is None else text
    try:
        value = orjson.loads(body)
        indented = orjson.dumps(value, option=orjson.OPT_INDENT_2)
    except orjson.JSONEncodeError:  # nested beyond what orjson re-encodes: far past MAX_DEPTH
        raise _too_deep() from None
    except orjson.JSONDecodeError as exc:
        raise _explain(text, exc) from None
    if _DEEP_LINE in indented and _CONTAINER_AT_LIMIT.search(indented):
        raise _too_deep()
    if body.count(b":") != indented.count(b":") or _ESCAPED_COLON.search(body):
        value = _parse_checked(text)  # finds the repeated key, or confirms there is none
    if require_object and not isinstance(value, dict):
        raise JsonRefused(
            "json.not_object",
            f"the top level is {_json_type(value)}, not an object",
            "Send one JSON object per delivery.",
        )
    return Parsed(text, value)


def _parse_checked(text: str) -> Any:
    """Python's parser with a duplicate-key and constant check: the slow, precise path."""
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs, parse_constant=_refuse_constant)
    except JsonRefused:
        raise
    except json.JSONDecodeError as exc:
        raise JsonRefused("json.syntax", f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise _too_deep() from None


def _explain(text: str, exc: orjson.JSONDecodeError) -> JsonRefused:
    """Why orjson refused a body, in the words of the rule it breaks."""
    try:
        _parse_checked(text)
    except JsonRefused as refused:
        if refused.code != "json.syntax":
            return refused
    message = str(exc)
    if "depth limit" in message:
        return _too_deep()
    return JsonRefused("json.syntax", message, "Send the body as strict JSON (RFC 8259).")


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JsonRefused(
                    "json.duplicate_key",
                    f"the key {key[:80]!r} appears twice in one object",
                    "Each key may appear once per object; duplicates are read differently by different systems.",
                )
            seen.add(key)
    return out


def _refuse_constant(name: str) -> Any:
    raise JsonRefused(
        "json.constant", f"{name} is not a JSON value", "Encode non-finite numbers as null or a string."
    )


def _too_deep() -> JsonRefused:
    return JsonRefused(
        "json.too_deep",
        f"objects and arrays are nested more than {MAX_DEPTH} levels deep",
        "Flatten the payload; no business document needs this depth.",
    )


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "null" if value is None else "a number"
