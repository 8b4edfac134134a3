"""Tryton's JSON-RPC wire format and how its failures become Crossdock's error classes.

Tryton encodes Decimal, dates, times and bytes as objects tagged with ``__class__``;
errors come back in a 200 response as ``{"error": [exception_name, args]}`` (a business
refusal) or ``{"error": [text, traceback]}`` (a server-side defect), and as HTTP statuses
for sessions, rate limits and crashes.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal
from typing import Any

from crossdock.errors import PermanentError, ThrottledError, TransientError

DEFAULT_RETRY_AFTER = 5.0


def _encode(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return {"__class__": "Decimal", "decimal": str(obj)}
    if isinstance(obj, dt.datetime):
        return {"__class__": "datetime", "year": obj.year, "month": obj.month, "day": obj.day,
                "hour": obj.hour, "minute": obj.minute, "second": obj.second,
                "microsecond": obj.microsecond}
    if isinstance(obj, dt.date):
        return {"__class__": "date", "year": obj.year, "month": obj.month, "day": obj.day}
    if isinstance(obj, dt.time):
        return {"__class__": "time", "hour": obj.hour, "minute": obj.minute, "second": obj.second,
                "microsecond": obj.microsecond}
    if isinstance(obj, dt.timedelta):
        return {"__class__": "timedelta", "seconds": obj.total_seconds()}
    if isinstance(obj, bytes | bytearray):
        return {"__class__": "bytes", "base64": base64.b64encode(obj).decode()}
    if isinstance(obj, set | frozenset):
        return list(obj)
    raise TypeError(f"cannot send {type(obj).__name__} to Tryton")


_DECODERS = {
    "Decimal": lambda d: Decimal(d["decimal"]),
    "datetime": lambda d: dt.datetime(d["year"], d["month"], d["day"], d["hour"], d["minute"],
                                      d["second"], d["microsecond"]),
    "date": lambda d: dt.date(d["year"], d["month"], d["day"]),
    "time": lambda d: dt.time(d["hour"], d["minute"], d["second"], d["microsecond"]),
    "timedelta": lambda d: dt.timedelta(seconds=d["seconds"]),
    "bytes": lambda d: base64.b64decode(d["base64"]),
}


def _decode_object(obj: dict) -> Any:
    decoder = _DECODERS.get(obj.get("__class__"))  # type: ignore[arg-type]
    return decoder(obj) if decoder else obj


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, default=_encode, separators=(",", ":")).encode()


def loads(body: bytes) -> Any:
    return json.loads(body, object_hook=_decode_object)


def retry_after(headers: Any) -> float:
    """Seconds from a Retry-After header (delta form), or a default when absent or a date."""
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER


def error_from_status(status: int, text: str, headers: Any, method: str) -> Exception:
    """The error for a non-200 answer (401/403 are handled by the caller first)."""
    detail = f"Tryton answered HTTP {status} to {method}: {text[:300].strip()}"
    if status == 429:
        return ThrottledError(retry_after(headers), f"Tryton throttled {method}")
    if status >= 500 or status in (408, 423):  # 423: a record is locked, retry later
        return TransientError(detail)
    if status == 409:  # a warning awaiting confirmation
        return PermanentError("remote.rejected", detail, hint="Resolve the Tryton warning, then retry.")
    if status in (401, 403):
        return PermanentError(
            "auth.invalid_credentials", detail,
            hint="Check the Tryton user name and password in the connection settings.")
    if status == 404:
        return PermanentError(
            "config.tryton_not_found", detail,
            hint="Check the Tryton URL and database name in the connection settings.")
    return PermanentError("remote.bad_request", detail,
                          hint="Crossdock sent a request Tryton could not read; report it as a defect.")


def error_from_payload(error: Any, method: str) -> Exception:
    """The error for ``{"error": ...}`` in a JSON-RPC answer."""
    if not isinstance(error, list | tuple) or not error:
        return TransientError(f"Tryton failed on {method}: {error!r}")
    kind, args = error[0], error[1] if len(error) > 1 else None
    args = list(args) if isinstance(args, list | tuple) else [args]
    context = {"tryton_error": kind, "method": method}
    if kind == "UserError":
        message, description = (args + [None, None])[:2]
        return PermanentError(
            "remote.rejected", str(message or "Tryton refused the request"),
            hint=str(description or "Tryton refused this document; correct it in Tryton or in the order, then retry."),
            context=context)
    if kind == "UserWarning":
        name, message, description = (args + [None, None, None])[:3]
        context["warning"] = name
        return PermanentError(
            "remote.rejected", str(message or "Tryton asks for a confirmation"),
            hint=str(description or f"Tryton raised warning {name!r}; resolve it in Tryton, then retry."),
            context=context)
    if kind == "LoginException":
        return PermanentError(
            "auth.invalid_credentials", f"Tryton asks for more login information ({args[0]!r})",
            hint="Check the Tryton user's authentication settings.", context=context)
    if kind == "RateLimitException":
        return ThrottledError(DEFAULT_RETRY_AFTER, f"Tryton throttled {method}")
    if kind in ("ConcurrencyException", "TimeOutException"):
        return TransientError(f"Tryton {kind} on {method}: {args[0] if args else ''}")
    # [text, traceback]: an unexpected exception on Tryton's side, a defect there.
    return TransientError(f"Tryton server error on {method}: {kind}")
