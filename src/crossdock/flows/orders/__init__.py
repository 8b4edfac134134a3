"""Order-to-cash: capture, validate and map, post to the ERP, release to warehouses,
confirm shipments to the channel, invoice, close — and cancellations on the way."""

from __future__ import annotations

from crossdock.engine.handlers import Registry
from crossdock.engine.retry import RetryPolicy
from crossdock.flows.orders import (
    cancel,
    capture,
    confirm,
    erp_fulfilment,
    fulfil,
    poll,
    prepare,
    stages,
    warehouse,
)

# ERP and channel outages last minutes to hours: back off up to 10 minutes, give up after a day.
OUTAGE_TOLERANT = RetryPolicy(base_seconds=2.0, cap_seconds=600.0, max_attempts=40, max_age_seconds=24 * 3600)


def register(registry: Registry) -> None:
    for kind, handler in (
        (stages.RECEIVED, capture.order_received),
        (stages.CANCELLED, capture.order_received),
        (stages.POLL, poll.poll),
        (stages.VALIDATE, prepare.validate),
        (stages.ACKNOWLEDGE, confirm.acknowledge),
        (stages.ERP_CREATE, fulfil.erp_create),
        (stages.ROUTE, prepare.route_order),
        (stages.ERP_WATCH, erp_fulfilment.erp_watch),
        (stages.RELEASE, fulfil.release),
        (stages.WAREHOUSE_EVENT, warehouse.warehouse_event),
        (stages.CONFIRM_SHIPMENT, confirm.confirm_shipment),
        (stages.POST_INVOICE, confirm.post_invoice),
        (stages.CANCEL_LINES, confirm.cancel_lines),
        (stages.CANCEL, cancel.cancel),
        (stages.CANCEL_RELEASE, cancel.cancel_release),
        (stages.ERP_CANCEL, cancel.erp_cancel),
        (stages.ERP_CANCEL_LINES, cancel.erp_cancel_lines),
        (stages.ATTENTION, cancel.attention),
    ):
        registry.add(kind, handler, OUTAGE_TOLERANT)
    registry.add(stages.SHIPMENT_OBSERVED, capture.shipment_observed)
