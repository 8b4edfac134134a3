"""Signed test webhooks (Standard Webhooks): bodies of a given size and their headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

# A fixed demo secret for the benchmark's own throw-away connection.
SECRET = "whsec_" + base64.b64encode(b"crossdock-bench-secret-0123456789").decode()


def secret_bytes(secret: str = SECRET) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def body(i: int, size: int, run: str = "") -> str:
    """A JSON order notification padded to `size` bytes (UTF-8)."""
    doc = {
        "id": f"{run}{i}",
        "topic": "orders/updated",
        "order": {
            "name": f"#{100000 + i}",
            "currency": "EUR",
            "total_price": "129.70",
            "line_items": [
                {"sku": f"SKU-{(i * 7 + k) % 99991:05d}", "quantity": 1 + k, "price": "12.97"}
                for k in range(5)
            ],
            "customer": {"email": f"buyer{i}@example.com", "first_name": "Ada", "last_name": "Lovelace"},
        },
        "note": "",
    }
    raw = json.dumps(doc, separators=(",", ":"))
    pad = max(0, size - len(raw))
    doc["note"] = "n" * pad
    return json.dumps(doc, separators=(",", ":"))


def sign(raw: str, key: bytes, msg_id: str | None = None, ts: int | None = None) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    ts = int(time.time()) if ts is None else ts
    mac = hmac.new(key, f"{msg_id}.{ts}.{raw}".encode(), hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
        "content-type": "application/json",
    }
