"""The schema, one SQLAlchemy Core table per concept; Alembic migrations are written from it.

Rules kept here:
- every tenant-owned table has `tenant_id`, and it leads every key and index;
- times are UNIX seconds (float) so the hot paths compare numbers on both databases;
- JSON bodies are stored as text exactly as received or written (no re-encoding).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Statuses that hold an ordering key (records.OPEN_STATUSES), as SQL text for partial indexes.
OPEN_CONDITION = "status IN ('ready', 'running', 'parked')"

# BIGINT that still autoincrements on SQLite (only INTEGER PRIMARY KEY does there).
Id = BigInteger().with_variant(Integer(), "sqlite")

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("settings", Text, nullable=False, default="{}"),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

connections = Table(
    "connections",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    # Globally unique: webhook URLs name the connection alone (`/hooks/{connection_id}/...`).
    Column("id", String(64), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("config", Text, nullable=False, default="{}"),  # secrets inside are `enc:` tokens
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id"),
    # The one index not led by tenant_id: resolving a tenant-less hook URL to its tenant.
    UniqueConstraint("id", name="uq_connections_id"),
)

routes = Table(
    "routes",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("source_connection_id", String(64), nullable=False),
    Column("topic", String(200), nullable=False),  # a topic or a glob such as `orders/*`
    Column("target_connection_id", String(64), nullable=False),
    PrimaryKeyConstraint("tenant_id", "source_connection_id", "topic", "target_connection_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("stream", String(64), nullable=False),
    Column("kind", String(100), nullable=False),
    Column("idempotency_key", String(300), nullable=False),
    Column("ordering_key", String(300)),
    Column("seq", BigInteger, nullable=False),  # position among messages of one ordering key
    Column("correlation_id", String(200)),
    Column("causation_id", BigInteger),
    Column("connection_id", String(64)),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    # Attempts before an operator's retry gave the message a fresh budget (attempts back to 0):
    # a step with an external effect still knows an earlier attempt may have reached the system.
    Column("earlier_attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("next_attempt_at", Float, nullable=False),  # while RUNNING: equals lease_expires_at
    Column("first_attempt_at", Float),
    Column("lease_owner", String(100)),
    Column("lease_token", String(40)),
    Column("lease_expires_at", Float),
    Column("payload", Text, nullable=False),
    Column("last_error", Text),
    Column("resubmitted_from", BigInteger),
    Column("resubmitted_as", BigInteger),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("tenant_id", "idempotency_key"),
    # Claim path: due READY work, and RUNNING work whose lease ran out, per lane, in order.
    Index("ix_messages_claim", "tenant_id", "stream", "status", "next_attempt_at", "id"),
    # Per-key order: is an earlier message of this key still open? Only open rows are indexed,
    # so the check never reads a key's handled history. The statuses are literals on purpose:
    # a partial index matches only a query that repeats its condition word for word.
    Index(
        "ix_messages_open_key",
        "tenant_id",
        "stream",
        "ordering_key",
        "seq",
        "id",
        sqlite_where=text(OPEN_CONDITION),
        postgresql_where=text(OPEN_CONDITION),
    ),
    Index("ix_messages_correlation", "tenant_id", "correlation_id"),
    Index("ix_messages_created", "tenant_id", "created_at"),
)

# Outlives message retention: providers redeliver for days after the message is purged.
dedupe_keys = Table(
    "dedupe_keys",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("idempotency_key", String(300), nullable=False),
    Column("message_id", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
    PrimaryKeyConstraint("tenant_id", "idempotency_key"),
    Index("ix_dedupe_keys_created", "tenant_id", "created_at"),
)

# A lane is one tenant's stream: the unit of fair claiming.
lanes = Table(
    "lanes",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("stream", String(64), nullable=False),
    PrimaryKeyConstraint("tenant_id", "stream"),
)

exceptions = Table(
    "exceptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("message_id", BigInteger, nullable=False),
    Column("kind", String(100), nullable=False),
    Column("correlation_id", String(200)),
    Column("connection_id", String(64)),
    Column("category", String(100), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("owner", String(16), nullable=False),
    Column("summary", Text, nullable=False),
    Column("hint", Text, nullable=False, default=""),
    Column("context", Text, nullable=False, default="{}"),
    Column("attempts", Integer, nullable=False),
    Column("first_seen_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Column("last_error", Text),
    Column("status", String(16), nullable=False),
    Column("resolution", Text),
    Column("closed_by", String(200)),
    Column("closed_at", Float),
    Index("ix_exceptions_desk", "tenant_id", "status", "category"),
    Index("ix_exceptions_message", "tenant_id", "message_id"),
)

# Who did what to an exception or message; the tamper-evident audit log keeps the rest.
exception_actions = Table(
    "exception_actions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("exception_id", BigInteger, nullable=False),
    Column("message_id", BigInteger, nullable=False),
    Column("action", String(32), nullable=False),  # retry | resubmit | resolve
    Column("actor", String(200), nullable=False),
    Column("reason", Text),
    Column("new_message_id", BigInteger),
    Column("at", Float, nullable=False),
    Index("ix_exception_actions_exception", "tenant_id", "exception_id"),
)

lineage = Table(
    "lineage",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("correlation_id", String(200)),
    Column("message_id", BigInteger),
    Column("attempt", Integer),
    Column("direction", String(8), nullable=False),  # in | out
    Column("connection_id", String(64)),
    Column("method", String(16)),
    Column("url", Text),
    Column("request_headers", Text),
    Column("request_body", Text),
    Column("status_code", Integer),
    Column("response_headers", Text),
    Column("response_body", Text),
    Column("duration_ms", Float),
    Column("error", Text),
    Column("created_at", Float, nullable=False),
    Index("ix_lineage_correlation", "tenant_id", "correlation_id"),
    Index("ix_lineage_message", "tenant_id", "message_id"),
    Index("ix_lineage_created", "tenant_id", "created_at"),
)

# Shared token bucket (GCRA) and pause per connection: holds across every worker process.
throttles = Table(
    "throttles",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("connection_id", String(64), nullable=False),
    Column("rate", Float, nullable=False),  # requests per second; 0 = unlimited
    Column("burst", Integer, nullable=False),
    Column("max_concurrency", Integer, nullable=False),  # 0 = unlimited
    Column("tat", Float, nullable=False, default=0.0),  # theoretical arrival time (GCRA)
    Column("paused_until", Float, nullable=False, default=0.0),
    Column("waits", BigInteger, nullable=False, default=0),
    PrimaryKeyConstraint("tenant_id", "connection_id"),
)

throttle_slots = Table(
    "throttle_slots",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("connection_id", String(64), nullable=False),
    Column("slot", Integer, nullable=False),
    Column("holder", String(100)),
    Column("expires_at", Float, nullable=False, default=0.0),
    PrimaryKeyConstraint("tenant_id", "connection_id", "slot"),
)

# Submissions counted against a connection's sliding-window quota (Amazon: 5 listings feeds
# per 5 minutes; Walmart: 10 inventory feeds an hour), one row per submission, shared by every
# worker process; rows older than the window are deleted when the quota is next taken.
quota_stamps = Table(
    "quota_stamps",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("connection_id", String(64), nullable=False),
    Column("quota", String(100), nullable=False),
    Column("holder", String(64), nullable=False),
    Column("taken_at", Float, nullable=False),
    PrimaryKeyConstraint("tenant_id", "connection_id", "quota", "holder"),
)

schedules = Table(
    "schedules",
    metadata,
    Column("tenant_id", String(64), nullable=False),  # `_system` for hub-wide jobs
    Column("name", String(200), nullable=False),
    Column("kind", String(100), nullable=False),  # the message kind fired
    Column("payload", Text, nullable=False, default="{}"),
    Column("interval_seconds", Float, nullable=False),
    Column("next_run_at", Float, nullable=False),
    Column("last_run_at", Float),
    Column("enabled", Boolean, nullable=False, default=True),
    PrimaryKeyConstraint("tenant_id", "name"),
)

# Polling positions (e.g. a marketplace's LastUpdatedAfter), written with the handler's outcome.
cursors = Table(
    "cursors",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("connection_id", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("value", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
    PrimaryKeyConstraint("tenant_id", "connection_id", "name"),
)

# Append-only; each entry carries the hash of the previous one (`crossdock audit verify`).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("tenant_id", String(64)),
    Column("action", String(64), nullable=False),
    Column("target", String(300)),
    Column("details", Text, nullable=False, default="{}"),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_tenant", "tenant_id", "at"),
)

# Each applied configuration file, kept whole: configuration is versioned.
config_versions = Table(
    "config_versions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("applied_at", Float, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("source", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content", Text, nullable=False),  # secrets already replaced by `enc:` tokens
)

# Counters that must survive restarts and be shared by processes (refused deliveries, ...).
counters = Table(
    "counters",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("value", BigInteger, nullable=False, default=0),
    PrimaryKeyConstraint("tenant_id", "name"),
)

# A tenant's cross-references, one row per entry so each is editable over the API:
# section sku | uom | tax_codes | shipping_methods | customers; `key` is derived from the
# entry (store.mappings.entry_key); `value` is the entry as in the configuration file.
mappings = Table(
    "mappings",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("section", String(32), nullable=False),
    Column("key", String(400), nullable=False),
    Column("value", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(200), nullable=False),
    PrimaryKeyConstraint("tenant_id", "section", "key"),
)

# A tenant's rule documents, one per name: units, customer_policies, legal_entities,
# routing, validation (each as its section of the configuration file).
tenant_rules = Table(
    "tenant_rules",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("name", String(64), nullable=False),
    Column("value", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(200), nullable=False),
    PrimaryKeyConstraint("tenant_id", "name"),
)

# ----------------------------------------------------------------- order-to-cash entities

# One row per channel order. `document` is the canonical order (domain.serde), `mapped`
# the ERP-ready sales order; `stage` is where the flow stands, `status` the order's
# status derived from its lines. `version` guards read-modify-write by handlers.
orders = Table(
    "orders",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("order_ref", String(200), nullable=False),  # `<channel>:<channel order id>`
    Column("channel", String(32), nullable=False),
    Column("channel_order_id", String(100), nullable=False),
    Column("connection_id", String(64), nullable=False),
    Column("stage", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("channel_updated_at", String(40)),
    Column("document", Text, nullable=False),
    Column("mapped", Text),
    Column("erp_id", String(100)),
    Column("erp_number", String(100)),
    Column("problem", Text),
    Column("version", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    PrimaryKeyConstraint("tenant_id", "order_ref"),
    Index("ix_orders_stage", "tenant_id", "stage", "updated_at"),
    Index("ix_orders_created", "tenant_id", "created_at"),
)

# One release of an order to one warehouse.
order_releases = Table(
    "order_releases",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("release_ref", String(240), nullable=False),  # `<order ref>@<warehouse>`
    Column("order_ref", String(200), nullable=False),
    Column("warehouse", String(64), nullable=False),
    Column("connection_id", String(64), nullable=False),
    Column("lines", Text, nullable=False),
    Column("state", String(32), nullable=False),  # planned | released | cancel_requested | cancelled | done
    Column("wms_ref", String(100)),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    PrimaryKeyConstraint("tenant_id", "release_ref"),
    Index("ix_order_releases_order", "tenant_id", "order_ref"),
)

# What left a warehouse for an order, and whether the channel and the ERP know it.
shipments = Table(
    "shipments",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("shipment_ref", String(240), nullable=False),
    Column("order_ref", String(200), nullable=False),
    Column("release_ref", String(240)),
    Column("document", Text, nullable=False),
    Column("confirmation_ref", String(200)),
    Column("confirmed_at", Float),
    Column("invoice_ref", String(100)),
    Column("invoiced_at", Float),
    Column("created_at", Float, nullable=False),
    PrimaryKeyConstraint("tenant_id", "shipment_ref"),
    Index("ix_shipments_order", "tenant_id", "order_ref"),
)

# ----------------------------------------------------------------- web console

# Console users. Not tenant-owned: a partner user spans tenants, so `tenants` (a JSON list
# of tenant ids, or ["*"]) says which it sees; `role` is an `access.Role`.
users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),  # argon2id, PHC string
    Column("role", String(32), nullable=False),
    Column("tenants", Text, nullable=False, default="[]"),
    Column("created_at", Float, nullable=False),
    Column("disabled_at", Float),
    Column("last_login_at", Float),
    UniqueConstraint("username"),
)

# One row per signed-in browser; the cookie holds the token, the table only its SHA-256.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_console_sessions_user", "user_id"),
)

# Console read model: shipments the channel has not been told about yet (SLA clock).
Index("ix_shipments_unconfirmed", shipments.c.tenant_id, shipments.c.confirmed_at, shipments.c.created_at)

# ----------------------------------------------------------------- API keys

# A key for the REST API. Not tenant-owned: a key may act for several tenants (or `*`),
# and verifying one looks it up by hash alone. Only the SHA-256 of the key is kept; the
# plaintext is shown once, when the key is created. `tenants` is a JSON list.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("key_prefix", String(16), nullable=False),  # first characters, for listings
    Column("key_hash", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("tenants", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("revoked_at", Float),
    Column("last_used_at", Float),
    UniqueConstraint("key_hash"),
)

# ----------------------------------------------------------------- available-to-promise
# Quantities are decimal text (exact on both databases: SQLite has no exact numeric type).

# Stock of one item at one location, as the ERP or WMS last reported it (`source`).
# `sequence`: the stock ledger entry through which the position includes every entry of
# `sequence_source`'s ledger (None: its source does not number them; migration 0010).
inventory_positions = Table(
    "inventory_positions",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("item_code", String(200), nullable=False),
    Column("location", String(64), nullable=False),
    Column("on_hand", String(40), nullable=False),
    Column("allocated", String(40), nullable=False),
    Column("unavailable", String(40), nullable=False),  # damaged, quarantine, on hold
    Column("inbound", Text, nullable=False, default="[]"),  # [{"quantity": "5", "expected": "2026-12-01"}]
    Column("source", String(64)),
    Column("updated_at", Float, nullable=False),
    Column("sequence", BigInteger),
    Column("sequence_source", String(64)),
    PrimaryKeyConstraint("tenant_id", "item_code", "location"),
)

# The stock journal (migration 0010): sequenced adjustments a position took beyond its
# `sequence`, kept so a snapshot older than them is rebased instead of wiping them, and a
# redelivered entry is recognised; the deltas are decimal text, `inbound` None: unchanged.
inventory_journal = Table(
    "inventory_journal",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("item_code", String(200), nullable=False),
    Column("location", String(64), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("on_hand", String(40), nullable=False),
    Column("allocated", String(40), nullable=False),
    Column("unavailable", String(40), nullable=False),
    Column("inbound", Text),
    Column("applied_at", Float, nullable=False),
    PrimaryKeyConstraint("tenant_id", "item_code", "location", "sequence"),
)

# The sequenced shipment entries (a stock ledger entry: source, location, sequence) that
# ended part of an order's hold on an item, so a redelivered entry never ends it twice;
# removed when the hold on the item ends. `source` is '' for a report without one.
reservation_shipments = Table(
    "reservation_shipments",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("order_ref", String(200), nullable=False),
    Column("item_code", String(200), nullable=False),
    Column("source", String(64), nullable=False),
    Column("location", String(64), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("applied_at", Float, nullable=False),
    PrimaryKeyConstraint("tenant_id", "order_ref", "item_code", "source", "location", "sequence"),
)

# An order's claim on an item: `quantity` is what it still wants, `converted` what of it a stock
# source counts as allocated to it; the order holds the rest itself (domain.availability).
inventory_reservations = Table(
    "inventory_reservations",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("order_ref", String(200), nullable=False),
    Column("item_code", String(200), nullable=False),
    Column("quantity", String(40), nullable=False),
    Column("converted", String(40), nullable=False, server_default="0"),
    Column("state", String(16), nullable=False),  # reserved | released | consumed (converted: before 0013)
    Column("updated_at", Float, nullable=False),
    PrimaryKeyConstraint("tenant_id", "order_ref", "item_code"),
    Index("ix_inventory_reservations_item", "tenant_id", "item_code", "state"),
)

# What each channel connection may list per item (`computed`, with its explanation) and
# what it was last handed for publishing; `pending_since`: an increase held back since then.
channel_availability = Table(
    "channel_availability",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("connection_id", String(64), nullable=False),
    Column("item_code", String(200), nullable=False),
    Column("computed", String(40), nullable=False),
    Column("computed_at", Float, nullable=False),
    Column("explanation", Text, nullable=False),  # domain.availability.Availability.to_plain()
    Column("published", String(40)),
    Column("published_at", Float),
    Column("pending_since", Float),
    PrimaryKeyConstraint("tenant_id", "connection_id", "item_code"),
    Index("ix_channel_availability_item", "tenant_id", "item_code"),
)

# ----------------------------------------------------------------- pricing (migration 0008)
# Prices are decimal text, like quantities; currencies ISO 4217 codes.

# The base price list, as the ERP (or a price feed) last gave it: one row per item.
base_prices = Table(
    "base_prices",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("item_code", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("price", String(40), nullable=False),
    Column("cost", String(40)),  # unit cost, when the ERP gives it (minimum margin floor)
    Column("source", String(64)),
    Column("updated_at", Float, nullable=False),
    PrimaryKeyConstraint("tenant_id", "item_code"),
)

# Effective-dated prices: in force from `starts_at` until `ends_at` (null: open-ended), for
# one channel connection or (null) every channel; they replace the base price meanwhile.
price_entries = Table(
    "price_entries",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("ref", String(100), nullable=False),
    Column("item_code", String(200), nullable=False),
    Column("connection_id", String(64)),
    Column("price", String(40), nullable=False),
    Column("starts_at", Float, nullable=False),
    Column("ends_at", Float),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("cancelled_at", Float),
    Column("cancelled_by", String(200)),
    PrimaryKeyConstraint("tenant_id", "ref"),
    Index("ix_price_entries_item", "tenant_id", "item_code"),
)

# Each channel connection's price per item: `computed` (with its explanation), `published`
# (handed to the channel) and `confirmed` (the channel took it). `publish_state`: idle |
# queued (waits for the connection's next publication) | sent (a feed is processing) | failed.
channel_prices = Table(
    "channel_prices",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("connection_id", String(64), nullable=False),
    Column("item_code", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("computed", String(40), nullable=False),
    Column("computed_at", Float, nullable=False),
    Column("explanation", Text, nullable=False),  # domain.pricing.ChannelPrice.to_plain()
    Column("published", String(40)),
    Column("published_at", Float),
    Column("confirmed", String(40)),
    Column("confirmed_at", Float),
    Column("publish_state", String(16), nullable=False, default="idle"),
    PrimaryKeyConstraint("tenant_id", "connection_id", "item_code"),
    Index("ix_channel_prices_item", "tenant_id", "item_code"),
    Index("ix_channel_prices_queue", "tenant_id", "connection_id", "publish_state"),
)

# A price change over the channel's threshold, waiting for (or decided by) a person.
# `status`: domain.pricing.ApprovalStatus. Ids are global, like exception ids.
price_approvals = Table(
    "price_approvals",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("connection_id", String(64), nullable=False),
    Column("item_code", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("old_price", String(40)),
    Column("new_price", String(40), nullable=False),
    Column("change_percent", String(40)),
    Column("threshold_percent", String(40)),
    Column("explanation", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("requested_at", Float, nullable=False),
    Column("message_id", BigInteger),  # the pricing.changed message that asked
    Column("decided_by", String(200)),
    Column("decided_at", Float),
    Column("reason", Text),
    Index("ix_price_approvals_status", "tenant_id", "status", "requested_at"),
    Index("ix_price_approvals_item", "tenant_id", "connection_id", "item_code"),
)

# ----------------------------------------------------------------- catalog (migration 0009)

# The item master: one record per item as its source last gave it (canonical JSON,
# `domain.catalog.ITEM_FIELDS`), with the record's fingerprint to tell changes from repeats.
catalog_items = Table(
    "catalog_items",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("item_code", String(200), nullable=False),
    Column("record", Text, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("source", String(64)),
    Column("updated_at", Float, nullable=False),
    PrimaryKeyConstraint("tenant_id", "item_code"),
)

# Each channel connection's listing of an item. `digest`: the fingerprint of the listing as
# last built (what was queued, sent or refused); `published_digest`: what the channel took.
# `status`: queued (waits for the connection's next feed, `document` holds it) | submitted
# (in feed `feed_id` as message `feed_message`) | published | blocked (a required attribute
# is missing) | rejected (the channel refused it). `detail`: JSON, why blocked or rejected.
catalog_listings = Table(
    "catalog_listings",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("connection_id", String(64), nullable=False),
    Column("item_code", String(200), nullable=False),
    Column("sku", String(200)),
    Column("status", String(16), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("published_digest", String(64)),
    Column("document", Text),
    Column("feed_id", String(64)),
    Column("feed_message", Integer),
    Column("channel_ref", String(200)),  # the channel's id of the listing (Shopify product gid)
    Column("detail", Text),
    Column("queued_at", Float),
    Column("published_at", Float),
    Column("updated_at", Float, nullable=False),
    PrimaryKeyConstraint("tenant_id", "connection_id", "item_code"),
    Index("ix_catalog_listings_queue", "tenant_id", "connection_id", "status", "queued_at"),
    Index("ix_catalog_listings_feed", "tenant_id", "connection_id", "feed_id"),
    Index("ix_catalog_listings_item", "tenant_id", "item_code"),
)

# ----------------------------------------------------------------- availability publishing
# (migration 0007) The latest-wins outbox of quantities per channel connection and item,
# what each channel confirmed, feeds awaiting the channel's report, one flush flag per
# connection, and the drift reports of reconciliation. Quantities are decimal text.

# What is still to be sent: one row per connection and item, the latest value wins (`seq`).
publish_queue = Table(
    "publish_queue",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("connection_id", String(64), nullable=False),
    Column("item_code", String(200), nullable=False),
    Column("quantity", String(40), nullable=False),
    Column("urgency", String(16), nullable=False),  # to_zero | low_stock | decrease | increase
    Column("rank", Integer, nullable=False),  # 0 (to_zero) … 3 (increase): lower goes first
    Column("seq", BigInteger, nullable=False),  # a value never replaces one with a higher seq
    Column("queued_at", Float, nullable=False),  # first queued since last sent (linger)
    Column("updated_at", Float, nullable=False),  # last changed (quiet)
    PrimaryKeyConstraint("tenant_id", "connection_id", "item_code"),
    Index("ix_publish_queue_next", "tenant_id", "connection_id", "rank", "queued_at"),
    Index("ix_publish_queue_quiet", "tenant_id", "connection_id", "updated_at"),
)

# What each channel was sent and confirmed per item, kept apart from what Crossdock computed
# (`channel_availability`); `observed`: what reconciliation last read from the channel.
channel_listings = Table(
    "channel_listings",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("connection_id", String(64), nullable=False),
    Column("item_code", String(200), nullable=False),
    Column("confirmed", String(40)),  # the channel accepted this quantity (None: unknown)
    Column("confirmed_seq", BigInteger),
    Column("confirmed_at", Float),
    Column("sent", String(40)),  # last handed to the channel (a feed may still be processing)
    Column("sent_seq", BigInteger),
    Column("sent_at", Float),
    Column("remote_ref", String(200)),  # the channel's own id of the listing, once learned
    Column("observed", String(40)),
    Column("observed_at", Float),
    Column("drift_since", Float),  # first seen differing by reconciliation (None: in step)
    PrimaryKeyConstraint("tenant_id", "connection_id", "item_code"),
)

# A feed the channel processes later: its token and what each update key stands for.
publish_batches = Table(
    "publish_batches",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("batch_ref", String(64), nullable=False),
    Column("connection_id", String(64), nullable=False),
    Column("token", Text, nullable=False),  # InventoryPublisher's pending token
    Column("entries", Text, nullable=False),  # {key: [item, quantity, seq]}
    Column("state", String(16), nullable=False),  # pending | done
    Column("submitted_at", Float, nullable=False),
    Column("checks", Integer, nullable=False, default=0),
    Column("finished_at", Float),
    PrimaryKeyConstraint("tenant_id", "batch_ref"),
    Index("ix_publish_batches_state", "tenant_id", "connection_id", "state"),
)

# One row per publishing connection: is a flush scheduled, and the generation of the next one.
publish_channels = Table(
    "publish_channels",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("connection_id", String(64), nullable=False),
    Column("flush_due", Boolean, nullable=False, default=False),
    Column("generation", BigInteger, nullable=False, default=0),
    Column("updated_at", Float, nullable=False),
    PrimaryKeyConstraint("tenant_id", "connection_id"),
)

# One reconciliation run of one channel connection: how many items, how far off, since when.
drift_reports = Table(
    "drift_reports",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("connection_id", String(64), nullable=False),
    Column("state", String(16), nullable=False),  # running | done
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("items_checked", Integer, nullable=False, default=0),
    Column("items_drifted", Integer, nullable=False, default=0),
    Column("items_missing", Integer, nullable=False, default=0),  # not listed on the channel
    Column("total_abs_diff", String(40), nullable=False, default="0"),
    Column("max_abs_diff", String(40), nullable=False, default="0"),
    Column("oldest_drift_since", Float),
    Column("sample", Text, nullable=False, default="[]"),  # the largest drifts, item by item
    Column("cursor", String(200)),  # the last item checked
    PrimaryKeyConstraint("tenant_id", "run_id"),
    Index("ix_drift_reports_connection", "tenant_id", "connection_id", "started_at"),
)
