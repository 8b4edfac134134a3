"""Worker-side Prometheus instruments, exported by the API's `/metrics`.

They are created at import on prometheus_client's default registry: that is the
library's idiom (one process-wide registry, instruments as module globals). They are
in-memory counters only and hold no database connection; the database-backed
figures (backlogs, exceptions, SLA, availability lag) are read at scrape time by
`crossdock.api.metrics`.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# Handler run time, per message kind (seconds): from the handler's start to its outcome.
HANDLER_SECONDS = Histogram(
    "crossdock_handler_seconds",
    "Time spent in a message handler, by message kind",
    ["kind"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)

# Committed (or fenced) outcomes: done | retried | parked | fenced.
MESSAGES = Counter(
    "crossdock_messages",
    "Message outcomes committed by this process's workers, by kind and outcome",
    ["kind", "outcome"],
)

# Seconds slept in the throttle gate before an external call, per connection.
THROTTLE_WAIT = Counter(
    "crossdock_throttle_wait_seconds",
    "Seconds external calls waited for their connection's rate limit",
    ["connection"],
)

# Durable intake: deliveries written as messages (`created`) or recognised as redeliveries.
INTAKE = Counter(
    "crossdock_intake_messages",
    "Deliveries taken in by this process's intake, by tenant and result",
    ["tenant", "result"],
)
