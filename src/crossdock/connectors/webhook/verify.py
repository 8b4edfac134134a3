"""Verifying a Standard Webhooks delivery: who sent it, when, and its idempotency key.

The signed content is `{webhook-id}.{webhook-timestamp}.{body}`, HMAC-SHA256 with the
connection's secret; `webhook-signature` lists one or more `v1,<base64>` signatures
(several while the sender rotates its secret). The signature is computed by the
`standardwebhooks` package; the header parsing and the timestamp window are ours, so
the window is the connection's `tolerance_seconds` and the clock can be injected.
A verified delivery yields its `webhook-id`, the key that makes redeliveries one message.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from standardwebhooks import Webhook

MAX_ID_LENGTH = 200
_ID = re.compile(r"[\x21-\x7e]+\Z")  # printable ASCII, no spaces
_TIMESTAMP = re.compile(r"[0-9]{1,12}\Z")


class SignatureError(Exception):
    """A delivery is not proven to come from the connection's sender."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        # missing_header | bad_id | bad_timestamp | stale_timestamp | future_timestamp | bad_signature
        self.reason = reason
        self.message = message


def signer(secret: str) -> Webhook:
    """The signer for a connection secret: `whsec_<base64>`, or a raw shared secret."""
    return Webhook(secret) if secret.startswith("whsec_") else Webhook(secret.encode())


def verify(
    signer: Webhook, headers: Mapping[str, str], body: str, *, now: float, tolerance_seconds: float
) -> str:
    """The delivery's `webhook-id` once its signature and timestamp hold; SignatureError otherwise.

    `headers` must be case-insensitive or lower-case (Starlette's and aiohttp's are)."""
    msg_id = _header(headers, "webhook-id")
    stamp = _header(headers, "webhook-timestamp")
    offered = _header(headers, "webhook-signature")
    if len(msg_id) > MAX_ID_LENGTH or not _ID.match(msg_id):
        raise SignatureError("bad_id", f"webhook-id must be 1-{MAX_ID_LENGTH} printable ASCII characters")
    when = _timestamp(stamp, now, tolerance_seconds)
    expected = _digest(signer.sign(msg_id, when, body))
    if not any(hmac.compare_digest(expected, sig) for sig in _signatures(offered)):
        raise SignatureError("bad_signature", "no v1 signature in webhook-signature matches the body")
    return msg_id


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if not value:
        raise SignatureError("missing_header", f"the {name} header is missing")
    return value.strip()


def _timestamp(stamp: str, now: float, tolerance: float) -> datetime:
    if not _TIMESTAMP.match(stamp):
        raise SignatureError("bad_timestamp", "webhook-timestamp must be integer UNIX seconds")
    seconds = int(stamp)
    if seconds < now - tolerance:
        raise SignatureError(
            "stale_timestamp", f"webhook-timestamp is {now - seconds:.0f}s old (limit {tolerance:.0f}s)"
        )
    if seconds > now + tolerance:
        raise SignatureError(
            "future_timestamp", f"webhook-timestamp is {seconds - now:.0f}s ahead (limit {tolerance:.0f}s)"
        )
    return datetime.fromtimestamp(seconds, tz=UTC)


def _signatures(header: str) -> list[bytes]:
    """The decodable `v1` signatures of the header; other versions and junk are skipped."""
    found = []
    for entry in header.split():
        version, _, value = entry.partition(",")
        if version != "v1" or not value:
            continue
        try:
            found.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    return found


def _digest(signature: str) -> bytes:
    return base64.b64decode(signature.partition(",")[2])


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> dict[str, str]:
    """Headers a Standard Webhooks sender would send (tests, the sandbox, `crossdock` tools)."""
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signer(secret).sign(msg_id, when, body),
    }
