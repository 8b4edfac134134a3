"""Where an order stands in the order-to-cash flow, and the message kinds that move it.

All kinds start with `order.`, so one order's steps share a stream and, with the
order reference as ordering key, run strictly in order."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    RECEIVED = "received"  # captured from the channel; not yet checked
    ON_HOLD = "on_hold"  # the channel says not to fulfil yet (payment, pre-order)
    VALIDATED = "validated"  # mapped and checked; ready for the ERP
    POSTED = "posted"  # the ERP holds the sales order
    RELEASED = "released"  # sent to its warehouse(s); backordered lines wait
    PARTIALLY_SHIPPED = "partially_shipped"  # some units left a warehouse
    SHIPPED = "shipped"  # every open unit shipped or cancelled
    CLOSED = "closed"  # shipped, confirmed to the channel and invoiced
    CANCEL_REQUESTED = "cancel_requested"  # the channel cancelled; undoing downstream
    CANCELLED = "cancelled"  # cancelled everywhere


# Message kinds of the flow, in the order they usually happen.
RECEIVED = "order.received"  # a channel's snapshot of the order (webhook or poll)
CANCELLED = "order.cancelled"  # the channel cancelled the order
POLL = "order.poll"  # poll a channel for new and changed orders (scheduled)
VALIDATE = "order.validate"  # on its own key (`validate_key`), beside the order's
ACKNOWLEDGE = "order.acknowledge"
ERP_CREATE = "order.erp.create"
ROUTE = "order.route"
ERP_WATCH = "order.erp.watch"  # fulfilment "erp": ask the ERP for the sale's shipments (repeats)
RELEASE = "order.release"
WAREHOUSE_EVENT = "order.warehouse_event"
CONFIRM_SHIPMENT = "order.shipment.confirm"
POST_INVOICE = "order.invoice.post"
CANCEL_LINES = "order.lines.cancel"  # tell the channel units will not ship
CANCEL = "order.cancel"
CANCEL_RELEASE = "order.release.cancel"
ERP_CANCEL = "order.erp.cancel"
ERP_CANCEL_LINES = "order.erp.cancel_lines"  # take units that will not ship off the ERP's sales order
# Something about an order a person must decide (a refused cancellation, backordered units):
# parks at once as an exception on its own key (`<order ref>/attention`), so it holds none of
# the order's own steps.
ATTENTION = "order.attention"



def validate_key(order_ref: str) -> str:
    """The ordering key of an order's validation: its own, so a validation parked on a
    problem (an incomplete address, an unmapped SKU) holds no later snapshot of the order.
    The channel's fix (orders/updated) is captured at once, and the retried validation reads
    it; a cancellation goes through too. Writes to the order meet on its row's version."""
    return f"{order_ref}/validate"


SHIPMENT_OBSERVED = "shipment.observed"  # a channel reports a fulfilment (usually the echo of ours)

CLOSED_STAGES = frozenset({Stage.CLOSED, Stage.CANCELLED})
# Stages after which no forward step (post, route, release) may run any more.
STOPPED_STAGES = frozenset({Stage.CLOSED, Stage.CANCELLED, Stage.CANCEL_REQUESTED})
