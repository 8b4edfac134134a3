"""Reading and staging order entities from handlers (the flow's unit of work)."""

from __future__ import annotations

from crossdock.domain.orders import Order
from crossdock.domain.serde import from_plain, to_plain
from crossdock.domain.shipments import Shipment
from crossdock.engine.handlers import HandlerContext
from crossdock.errors import Owner, PermanentError
from crossdock.flows.tenant_config import STAMP
from crossdock.store import orders as store
from crossdock.store.orders import OrderRecord, ReleaseRecord, ShipmentRecord


def order_ref(ctx: HandlerContext) -> str:
    # A step the flow emits names its order (some run on a key of their own: `<ref>/validate`);
    # a delivery from outside (a channel snapshot, a warehouse event) is keyed by it.
    named = ctx.payload.get("order_ref") if isinstance(ctx.payload, dict) else None
    ref = named or ctx.message.ordering_key
    if not ref:
        raise PermanentError(
            "defect.order_ref_missing",
            f"message {ctx.message.id} ({ctx.message.kind}) names no order",
            "Report this message id; it was emitted without an order reference.",
            owner=Owner.PARTNER,
        )
    return ref


async def aggregate(ctx: HandlerContext, ref: str | None = None) -> store.OrderAggregate:
    """The order with its releases and shipments, read once per step in one snapshot, with
    the configuration stamp (`flows.tenant_config`) of that same snapshot."""
    tenant, ref = ctx.message.tenant_id, ref or order_ref(ctx)
    key = ("order", ref)
    held = ctx.memo.get(key)
    if held is None:
        held, stamp = await ctx.read(lambda c: store.get_aggregate_and_head(c, tenant, ref))
        ctx.memo[key] = held
        ctx.memo.setdefault(STAMP, stamp)
    return held


async def find(ctx: HandlerContext, ref: str | None = None) -> OrderRecord | None:
    return (await aggregate(ctx, ref)).order


async def load(ctx: HandlerContext) -> OrderRecord:
    rec = await find(ctx)
    if rec is None:
        raise PermanentError(
            "defect.order_missing",
            f"order {order_ref(ctx)} is not known to Crossdock",
            "The order's capture step did not complete; look at its earlier messages.",
            owner=Owner.PARTNER,
        )
    return rec


async def releases(ctx: HandlerContext, ref: str) -> list[ReleaseRecord]:
    return (await aggregate(ctx, ref)).releases


async def shipments(ctx: HandlerContext, ref: str) -> list[ShipmentRecord]:
    return (await aggregate(ctx, ref)).shipments


def canonical(rec: OrderRecord) -> Order:
    return from_plain(Order, rec.document)


# Facts the hub keeps beside the canonical order in its document (see capture).
KEPT = ("channel_cancelled",)


def with_order(rec: OrderRecord, order: Order, **changes) -> OrderRecord:
    kept = {k: rec.document[k] for k in KEPT if k in rec.document}
    return rec.evolve(document=to_plain(order) | kept, status=order.status.value, **changes)


def save(ctx: HandlerContext, rec: OrderRecord) -> None:
    ctx.stage(lambda c: store.save_order(c, rec, ctx.now))


def save_release(ctx: HandlerContext, rec: ReleaseRecord) -> None:
    ctx.stage(lambda c: store.save_release(c, rec, ctx.now))


def save_shipment(ctx: HandlerContext, rec: ShipmentRecord) -> None:
    ctx.stage(lambda c: store.save_shipment(c, rec, ctx.now))


def shipment_of(rec: ShipmentRecord) -> Shipment:
    return from_plain(Shipment, rec.document)
