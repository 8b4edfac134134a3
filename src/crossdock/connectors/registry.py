"""Connector kinds: for each, its config model, how to build it, how to verify its inbound deliveries.

The registry is a plain dict filled in one place (`KINDS` below), read by the
composition root and the configuration loader; connector packages never register
themselves at import time."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from crossdock.connectors.capabilities import InboundVerifier, Recorder


@dataclass
class ConnectorContext:
    """What a connector gets when it is built for one handler call."""

    connection_id: str
    tenant_id: str
    session: aiohttp.ClientSession  # shared by the process
    record: Recorder  # lineage of every request, secrets redacted
    cache: dict[str, Any] = field(default_factory=dict)  # per connection, lives with the process (tokens)
    clock: Callable[[], float] = time.time
    # Wraps every single request to the system: the connection's shared rate, concurrency and
    # pause (the flow passes the engine's throttle; a bare context, as in tests, waits for nothing).
    permit: Callable[[], AbstractAsyncContextManager[None]] = nullcontext
    # Sliding-window submission quotas (`connectors.quota`); None: counted in the process.
    quota: Any = None


@dataclass(frozen=True)
class ConnectorKind:
    kind: str
    build: Callable[[Any, ConnectorContext], Any] | None = None  # (opened config, context) → connector
    inbound: InboundVerifier | None = None
