"""Publishing quantities to channels: the latest-wins outbox (`publish_queue`), what each
channel was sent and confirmed (`channel_listings`), feeds awaiting the channel's report
(`publish_batches`) and the one-flush-per-connection flag (`publish_channels`).

Handlers read through `ctx.read` and write as staged effects, so every change commits
with the message that caused it. A queued value replaces another only when its `seq` is
higher (the message clock: a later decision always has a higher seq), so publishes need
no ordering key. Flushes are scheduled under the connection's `publish_channels` row
lock (see `request_flush`), so a value queued while a flush finishes is never stranded.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal

import orjson
from sqlalchemy import Connection, and_, delete, exists, func, literal_column, select, text, update

from crossdock.records import NewMessage, Status
from crossdock.store import bulk
from crossdock.store import messages as message_store
from crossdock.store.db import insert_into
from crossdock.store.tables import (
    OPEN_CONDITION,
    channel_availability,
    channel_listings,
    exceptions,
    mappings,
    messages,
    publish_batches,
    publish_channels,
    publish_queue,
)

FLUSH_KIND = "availability.flush"  # written here, handled by flows.availability
PUBLISH_KIND = "availability.publish"
ITEM_KIND = "availability.item"
RECONCILE_KIND = "availability.reconcile"
BURST_STREAM = "inventory"  # stock and reservation work still in flight means a burst
_CHUNK = 500


def _chunks(values: list, n: int = _CHUNK) -> Iterable[list]:
    for i in range(0, len(values), n):
        yield values[i : i + n]


# --------------------------------------------------------------------------- the outbox


@dataclass(frozen=True, slots=True)
class QueuedValue:
    item: str
    quantity: Decimal
    urgency: str
    rank: int
    seq: int
    queued_at: float = 0.0
    updated_at: float = 0.0


_QUEUE_KEYS = ("tenant_id", "connection_id", "item_code")
_QUEUE_COLUMNS = _QUEUE_KEYS + ("quantity", "urgency", "rank", "seq", "queued_at", "updated_at")
_QUEUE_UPDATES = ("quantity", "urgency", "rank", "seq", "updated_at")  # `queued_at` is kept (linger)


def queue_values(
    conn: Connection, tenant_id: str, connection_id: str, values: list[QueuedValue], now: float
) -> None:
    """Upsert each value unless a newer one (higher seq) is queued; keeps `queued_at`."""
    queue_rows(conn, tenant_id, connection_id, [(v.item, str(v.quantity), v.urgency, v.rank, v.seq) for v in values],
               now)  # fmt: skip


def queue_rows(
    conn: Connection, tenant_id: str, connection_id: str, values: list[tuple[str, str, str, int, int]], now: float
) -> None:
    """`queue_values` for values as tuples (item, quantity as decimal text, urgency, rank, seq):
    a stock burst queues 200,000 of them."""
    rows = [(tenant_id, connection_id, *v, now, now) for v in values]
    bulk.upsert(conn, publish_queue, _QUEUE_COLUMNS, rows, keys=_QUEUE_KEYS, updates=_QUEUE_UPDATES, newer="seq")


_VALUE_COLUMNS = tuple(
    publish_queue.c[name] for name in ("item_code", "quantity", "urgency", "rank", "seq", "queued_at", "updated_at")
)


def _row_value(r) -> QueuedValue:
    item, quantity, urgency, rank, seq, queued_at, updated_at = r  # by position: `_VALUE_COLUMNS`
    return QueuedValue(item, Decimal(quantity), urgency, rank, seq, queued_at, updated_at)


def _own(tenant_id: str, connection_id: str, skip: Collection[str]) -> tuple:
    """The connection's queued values, less the items in `skip` (taken by an earlier batch of
    the same flush, whose removal is not committed yet: skipped in the database instead of
    being read, converted and thrown away, which made a flush's later batches cost more
    and more)."""
    t = publish_queue.c
    own = (t.tenant_id == tenant_id, t.connection_id == connection_id)
    return (*own, t.item_code.not_in(sorted(skip))) if skip else own


def pick(
    conn: Connection, tenant_id: str, connection_id: str, limit: int, *, skip: Collection[str] = ()
) -> list[QueuedValue]:
    """Up to `limit` queued values (items in `skip` left out), most urgent first, then oldest."""
    t = publish_queue.c
    q = (
        select(*_VALUE_COLUMNS)
        .where(*_own(tenant_id, connection_id, skip))
        .order_by(t.rank, t.queued_at, t.item_code)
        .limit(limit)
    )
    return [_row_value(r) for r in conn.execute(q)]


def pick_in_burst(
    conn: Connection,
    tenant_id: str,
    connection_id: str,
    limit: int,
    *,
    quiet: float,
    linger: float,
    urgent: int,
    skip: Collection[str] = (),
) -> list[QueuedValue]:
    """While a burst is in flight: a full batch of values unchanged since `quiet` (plus urgent
    ones, rank ≤ `urgent`, and any queued before `linger`), most urgent first; else only the
    urgent and lingering ones (items in `skip` left out). Each test is an index range, so a
    waiting flush stays cheap."""
    t = publish_queue.c
    own = _own(tenant_id, connection_id, skip)
    settled = select(t.item_code).where(*own, t.updated_at <= quiet).limit(limit).subquery()
    # Counted in the database: a feed channel's batch is 25,000 values, polled while a burst runs.
    if conn.execute(select(func.count()).select_from(settled)).scalar_one() >= limit:
        q = select(*_VALUE_COLUMNS).where(
            *own, (t.rank <= urgent) | (t.updated_at <= quiet) | (t.queued_at <= linger)
        )
        q = q.order_by(t.rank, t.queued_at, t.item_code).limit(limit)
        return [_row_value(r) for r in conn.execute(q)]
    found: list[QueuedValue] = []
    for rank in range(4):
        cond = t.rank == rank if rank <= urgent else and_(t.rank == rank, t.queued_at <= linger)
        q = (
            select(*_VALUE_COLUMNS)
            .where(*own, cond)
            .order_by(t.queued_at, t.item_code)
            .limit(limit - len(found))
        )
        found += [_row_value(r) for r in conn.execute(q)]
        if len(found) >= limit:
            break
    return found


def queued_count(conn: Connection, tenant_id: str, connection_id: str) -> int:
    t = publish_queue.c
    q = select(func.count()).where(t.tenant_id == tenant_id, t.connection_id == connection_id)
    return int(conn.execute(q).scalar_one())


def burst_in_flight(conn: Connection, tenant_id: str, connection_id: str, now: float) -> bool:
    """Is stock work still running or due for the tenant, or a publish (or a reconciliation
    step) for this connection not yet queued? Then a partial batch waits: the burst may
    change its values again, or add to the batch."""
    m = messages.c
    due = and_(m.status == Status.READY.value, m.next_attempt_at <= now)
    running = m.status == Status.RUNNING.value
    for status_cond in (due, running):
        stock = select(literal_column("1")).where(
            m.tenant_id == tenant_id, m.stream == BURST_STREAM, status_cond
        )
        if conn.execute(select(exists(stock))).scalar():
            return True
        publishes = select(literal_column("1")).where(
            m.tenant_id == tenant_id,
            m.stream == "availability",
            status_cond,
            m.kind.in_([PUBLISH_KIND, RECONCILE_KIND]),
            m.connection_id == connection_id,
        )
        if conn.execute(select(exists(publishes))).scalar():
            return True
    return False


def drop_queued(
    conn: Connection, tenant_id: str, connection_id: str, taken: Iterable[tuple[str, int]]
) -> None:
    """Remove queued values that were handled (sent or unchanged), unless replaced since.

    One statement per seq and 500 items (the items of one stock computation share its seq),
    not one per item. The queue is empty most of the time, so PostgreSQL's statistics of it
    are those of an empty table (or none, when new); planning with them, it looked each item
    up through the connection's whole `(tenant, connection, …)` secondary index, and dropping
    a 20,000-value batch item by item took 53 s. A set-based statement costs at most one pass
    over the connection's queue whichever index the planner takes."""
    t = publish_queue.c
    by_seq: dict[int, list[str]] = {}
    for item, seq in taken:
        by_seq.setdefault(seq, []).append(item)
    for seq, items in by_seq.items():
        for chunk in _chunks(items):
            conn.execute(
                delete(publish_queue).where(
                    t.tenant_id == tenant_id,
                    t.connection_id == connection_id,
                    t.seq == seq,
                    t.item_code.in_(chunk),
                )
            )


# --------------------------------------------------------------------------- flush scheduling


def request_flush(
    conn: Connection, tenant_id: str, connection_id: str, now: float, delay: float = 0.0
) -> bool:
    """Make sure one flush of the connection is scheduled; True when this call wrote it.

    The connection's row is locked first and the flag read under the lock, whatever it says:
    a flush finishing concurrently (it clears the flag, then looks for values left) then runs
    wholly before or after this transaction, so either it sees the values queued here or this
    call sees its cleared flag and schedules the next flush. (Reading the flag without the lock
    let a value queued while the flush finished be stranded with no flush scheduled.) Of many
    concurrent requests one flips the flag and writes the flush message (idempotency key: the
    connection's next generation)."""
    c = publish_channels.c
    key = (c.tenant_id == tenant_id, c.connection_id == connection_id)
    locked = select(c.flush_due).where(*key).with_for_update()
    due = conn.execute(locked).scalar()
    if due is None:
        row = {"tenant_id": tenant_id, "connection_id": connection_id, "flush_due": True, "generation": 1,
               "updated_at": now}  # fmt: skip
        stmt = insert_into(conn, publish_channels).values(**row).on_conflict_do_nothing()
        if conn.execute(stmt.returning(c.generation)).first() is None:  # inserted meanwhile by another
            due = conn.execute(locked).scalar_one()
    if due is False:
        conn.execute(
            update(publish_channels).where(*key).values(flush_due=True, generation=c.generation + 1, updated_at=now)
        )
    elif due is True and not _flush_closed(conn, tenant_id, connection_id, now):
        return False  # a flush is already scheduled
    generation = conn.execute(select(c.generation).where(*key)).scalar_one()
    new = NewMessage(
        tenant_id=tenant_id,
        kind=FLUSH_KIND,
        idempotency_key=f"{FLUSH_KIND}:{connection_id}:{generation}",
        payload={"connection_id": connection_id},
        ordering_key=connection_id,
        correlation_id=f"availability:{connection_id}",
        connection_id=connection_id,
        delay_seconds=delay,
    )
    message_store.insert(conn, [new], now)
    return True


def _flush_closed(conn: Connection, tenant_id: str, connection_id: str, now: float) -> bool:
    """The flag says a flush is scheduled, but an operator closed that flush on the desk
    (resolved): take the next generation, or the connection would never flush again.
    (A flush that is done has always cleared the flag in the same transaction, though
    possibly after this check runs within it: only `resolved` means closed.)"""
    c = publish_channels.c
    row = conn.execute(
        select(c.generation)
        .where(c.tenant_id == tenant_id, c.connection_id == connection_id)
        .with_for_update()
    ).first()
    if row is None:
        return False
    key = f"{FLUSH_KIND}:{connection_id}:{row.generation}"
    m = messages.c
    status = conn.execute(select(m.status).where(m.tenant_id == tenant_id, m.idempotency_key == key)).scalar()
    if status != Status.RESOLVED.value:
        return False
    conn.execute(
        update(publish_channels)
        .where(c.tenant_id == tenant_id, c.connection_id == connection_id)
        .values(generation=c.generation + 1, updated_at=now)
    )
    return True


def finish_flush(conn: Connection, tenant_id: str, connection_id: str, now: float, delay: float) -> None:
    """A flush ends: the next one is scheduled (after `delay`) while values remain queued."""
    c = publish_channels.c
    conn.execute(
        update(publish_channels)
        .where(c.tenant_id == tenant_id, c.connection_id == connection_id)
        .values(flush_due=False, updated_at=now)
    )
    t = publish_queue.c
    left = select(literal_column("1")).where(t.tenant_id == tenant_id, t.connection_id == connection_id)
    if conn.execute(select(exists(left))).scalar():
        request_flush(conn, tenant_id, connection_id, now, delay)


# --------------------------------------------------------------------------- listings


@dataclass(frozen=True, slots=True)
class Listing:
    item: str
    confirmed: Decimal | None = None
    confirmed_seq: int | None = None
    confirmed_at: float | None = None
    sent: Decimal | None = None
    sent_seq: int | None = None
    remote_ref: str | None = None
    drift_since: float | None = None

    @property
    def in_flight(self) -> bool:
        """Sent and not yet confirmed or refused (a feed the channel still processes)."""
        return _in_flight(self.sent_seq, self.confirmed_seq)

    @property
    def will_show(self) -> Decimal | None:
        """What the channel shows once the work in flight is done."""
        return self.sent if self.in_flight else self.confirmed


def _in_flight(sent_seq: int | None, confirmed_seq: int | None) -> bool:
    return sent_seq is not None and (confirmed_seq is None or sent_seq > confirmed_seq)


def will_show(
    confirmed: str | None, confirmed_seq: int | None, sent: str | None, sent_seq: int | None
) -> Decimal | None:
    """`Listing.will_show` from a listing row's stored columns (None: not known)."""
    shown = sent if _in_flight(sent_seq, confirmed_seq) else confirmed
    return Decimal(shown) if shown is not None else None


def _dec(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


def _listing(r) -> Listing:
    return Listing(r.item_code, _dec(r.confirmed), r.confirmed_seq, r.confirmed_at, _dec(r.sent), r.sent_seq,
                   r.remote_ref, r.drift_since)  # fmt: skip


def read_listings(
    conn: Connection, tenant_id: str, connection_id: str, items: Iterable[str]
) -> dict[str, Listing]:
    t = channel_listings.c
    columns = (t.item_code, t.confirmed, t.confirmed_seq, t.confirmed_at, t.sent, t.sent_seq, t.remote_ref,
               t.drift_since)  # fmt: skip
    found: dict[str, Listing] = {}
    for chunk in _chunks(sorted(set(items))):
        q = select(*columns).where(
            t.tenant_id == tenant_id, t.connection_id == connection_id, t.item_code.in_(chunk)
        )
        # Unpacked as tuples, not through `_listing(row)`: a flush reads up to 25,000 of them.
        for item, confirmed, confirmed_seq, confirmed_at, sent, sent_seq, remote_ref, drift_since in conn.execute(q):
            found[item] = Listing(item, _dec(confirmed), confirmed_seq, confirmed_at, _dec(sent), sent_seq,
                                  remote_ref, drift_since)  # fmt: skip
    return found


@dataclass(frozen=True, slots=True)
class Sent:
    """One value handed to the channel in one update."""

    item: str
    quantity: Decimal
    seq: int


_LISTING_KEYS = ("tenant_id", "connection_id", "item_code")
_SENT = ("sent", "sent_seq", "sent_at")
_CONFIRMED = ("confirmed", "confirmed_seq", "confirmed_at", "drift_since")


def mark_sent(conn: Connection, tenant_id: str, connection_id: str, sent: list[Sent], now: float) -> None:
    """Values handed to the channel: they leave the queue (unless replaced since)."""
    drop_queued(conn, tenant_id, connection_id, [(s.item, s.seq) for s in sent])
    rows = [(tenant_id, connection_id, s.item, str(s.quantity), s.seq, now) for s in sent]
    bulk.upsert(conn, channel_listings, _LISTING_KEYS + _SENT, rows, keys=_LISTING_KEYS, updates=_SENT)


def mark_confirmed(
    conn: Connection, tenant_id: str, connection_id: str, done: list[Sent], now: float
) -> None:
    """The channel accepted these values; an older confirmation never replaces a newer one."""
    rows = [(tenant_id, connection_id, s.item, str(s.quantity), s.seq, now, None) for s in done]
    bulk.upsert(conn, channel_listings, _LISTING_KEYS + _CONFIRMED, rows, keys=_LISTING_KEYS, updates=(),
                guarded=_CONFIRMED, guard="confirmed_seq")  # fmt: skip


def mark_accepted(
    conn: Connection, tenant_id: str, connection_id: str, done: list[Sent], now: float
) -> None:
    """`mark_sent` then `mark_confirmed` of the same values (a channel that answers at once),
    in one statement per 500 listings instead of two."""
    drop_queued(conn, tenant_id, connection_id, [(s.item, s.seq) for s in done])
    rows = [(tenant_id, connection_id, s.item, q := str(s.quantity), s.seq, now, q, s.seq, now, None) for s in done]
    bulk.upsert(conn, channel_listings, _LISTING_KEYS + _SENT + _CONFIRMED, rows, keys=_LISTING_KEYS,
                updates=_SENT, guarded=_CONFIRMED, guard="confirmed_seq")  # fmt: skip


def mark_refused(conn: Connection, tenant_id: str, connection_id: str, refused: list[Sent], now: float,
                 *, forget_confirmed: bool = False) -> None:  # fmt: skip
    """The channel refused these values: what was sent no longer counts. `forget_confirmed`:
    the channel's figure is not what Crossdock last confirmed (it changed on the channel)."""
    t = channel_listings.c
    for s in refused:
        key = (t.tenant_id == tenant_id, t.connection_id == connection_id, t.item_code == s.item)
        values = {"sent": t.confirmed, "sent_seq": t.confirmed_seq}
        if forget_confirmed:
            values = {"sent": None, "sent_seq": None, "confirmed": None, "confirmed_seq": None}
        conn.execute(update(channel_listings).where(*key, t.sent_seq == s.seq).values(**values))


def overtaken(conn: Connection, tenant_id: str, connection_id: str, done: list[Sent]) -> list[tuple[Sent, Listing]]:
    """Values a channel reports processed (a feed) after a newer value of the same item was
    accepted at once (patched while the feed waited: sent and confirmed in one go), with that
    item's listing: the channel may have applied the older value last. A newer value that went
    in a later feed is not overtaken (feeds are applied in the order they were submitted), and
    one still in flight settles it. The listing rows are locked (PostgreSQL) so no flush
    confirms another value before the caller queues the newer one again."""
    if not done:
        return []
    t = channel_listings.c
    found: list[tuple[Sent, Listing]] = []
    by_item = {s.item: s for s in done}
    for chunk in _chunks(sorted(by_item)):
        q = select(channel_listings).where(
            t.tenant_id == tenant_id, t.connection_id == connection_id, t.item_code.in_(chunk),
            t.confirmed_seq.is_not(None),
        )  # fmt: skip
        for row in conn.execute(q.with_for_update()):
            listing, value = _listing(row), by_item[row.item_code]
            newer = listing.confirmed_seq is not None and listing.confirmed_seq > value.seq
            at_once = row.sent_seq == row.confirmed_seq and row.sent_at == row.confirmed_at
            if newer and at_once and listing.confirmed != value.quantity:
                found.append((value, listing))
    return found


def forget_remote_refs(conn: Connection, tenant_id: str, connection_id: str, items: Iterable[str]) -> None:
    t = channel_listings.c
    for chunk in _chunks(sorted(set(items))):
        conn.execute(
            update(channel_listings)
            .where(t.tenant_id == tenant_id, t.connection_id == connection_id, t.item_code.in_(chunk))
            .values(remote_ref=None)
        )


def open_failures(conn: Connection, tenant_id: str, connection_id: str, items: Iterable[str]) -> set[str]:
    """Items of the connection with a per-item failure still parked on the exception desk."""
    m = messages.c
    keys = {f"{connection_id}/{item}": item for item in items}
    found: set[str] = set()
    for chunk in _chunks(sorted(keys)):
        q = select(m.ordering_key).where(
            m.tenant_id == tenant_id,
            m.stream == "availability",
            m.ordering_key.in_(chunk),
            text(OPEN_CONDITION),
            m.status == Status.PARKED.value,
            m.kind == ITEM_KIND,
        )
        found.update(keys[k] for k in conn.execute(q).scalars())
    return found


# --------------------------------------------------------------------------- feeds in flight


@dataclass(frozen=True, slots=True)
class Batch:
    batch_ref: str
    connection_id: str
    token: str
    entries: dict[str, tuple[str, Decimal, int]]  # update key → (item, quantity, seq)
    state: str
    submitted_at: float
    checks: int


def save_batch(conn: Connection, tenant_id: str, batch: Batch) -> None:
    entries = {k: [item, str(q), seq] for k, (item, q, seq) in batch.entries.items()}
    conn.execute(
        publish_batches.insert().values(
            tenant_id=tenant_id,
            batch_ref=batch.batch_ref,
            connection_id=batch.connection_id,
            token=batch.token,
            entries=orjson.dumps(entries).decode(),
            state=batch.state,
            submitted_at=batch.submitted_at,
            checks=0,
        )  # fmt: skip
    )


def get_batch(conn: Connection, tenant_id: str, batch_ref: str) -> Batch | None:
    t = publish_batches.c
    r = conn.execute(
        select(publish_batches).where(t.tenant_id == tenant_id, t.batch_ref == batch_ref)
    ).first()
    if r is None:
        return None
    entries = {k: (v[0], Decimal(v[1]), int(v[2])) for k, v in orjson.loads(r.entries).items()}
    return Batch(r.batch_ref, r.connection_id, r.token, entries, r.state, r.submitted_at, r.checks)


def checked_batch(conn: Connection, tenant_id: str, batch_ref: str, now: float, *, done: bool) -> None:
    t = publish_batches.c
    values = {"checks": t.checks + 1}
    if done:
        values.update(state="done", finished_at=now)
    conn.execute(
        update(publish_batches).where(t.tenant_id == tenant_id, t.batch_ref == batch_ref).values(**values)
    )


# --------------------------------------------------------------------------- lookups


def sku_refs(conn: Connection, tenant_id: str) -> dict[str, dict[str, list[str]]]:
    """Channel → item → the item's SKUs there, from the tenant's `sku` mappings (only
    entries with a SKU: a product reference alone names no stock listing)."""
    out: dict[str, dict[str, list[str]]] = {}
    q = select(mappings.c.value).where(mappings.c.tenant_id == tenant_id, mappings.c.section == "sku")
    for value in conn.execute(q).scalars():
        entry = orjson.loads(value)
        if entry.get("sku"):
            out.setdefault(str(entry["channel"]), {}).setdefault(str(entry["item"]), []).append(
                str(entry["sku"])
            )
    for items in out.values():
        for refs in items.values():
            refs.sort()
    return out


def has_exception(conn: Connection, tenant_id: str, message_id: int) -> bool:
    """Was this message parked before (so it runs now because an operator retried it)?"""
    e = exceptions.c
    q = select(literal_column("1")).where(e.tenant_id == tenant_id, e.message_id == message_id)
    return bool(conn.execute(select(exists(q))).scalar())


def current_value(conn: Connection, tenant_id: str, connection_id: str, item: str) -> Decimal | None:
    """What the channel should show for `item` now: the last value availability handed to
    publishing (None: nothing was ever decided for this channel)."""
    t = channel_availability.c
    key = (t.tenant_id == tenant_id, t.connection_id == connection_id, t.item_code == item)
    value = conn.execute(select(t.published).where(*key)).scalar()
    return Decimal(value) if value is not None else None


def forget_confirmed(conn: Connection, tenant_id: str, connection_id: str, items: Iterable[str]) -> None:
    """The channel's figure is no longer the one Crossdock confirmed (it changed there)."""
    t = channel_listings.c
    for chunk in _chunks(sorted(set(items))):
        conn.execute(
            update(channel_listings)
            .where(t.tenant_id == tenant_id, t.connection_id == connection_id, t.item_code.in_(chunk))
            .values(confirmed=None, confirmed_seq=None, sent=None, sent_seq=None)
        )
