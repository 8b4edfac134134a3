"""Walmart as a sales channel: orders polled from the Orders API, acknowledged, shipped per
line with carrier and tracking, cancelled per line.

Implements `SalesChannel` and `OrderSource`. Walmart wants every seller-fulfilled order
acknowledged within 4 hours of its creation (`requires_acknowledgement`). Every call runs
within the operation's limit (client.py). An acknowledgement or shipping update Walmart
refuses is checked against the order as Walmart holds it: an order no longer `Created`
needs no acknowledgement, and units shown shipped under the shipment's tracking number
were confirmed already.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, quote

import orjson

from crossdock.connectors.capabilities import ChannelOrderRef, OrderPage
from crossdock.connectors.codec_errors import CodecError
from crossdock.connectors.registry import ConnectorContext, ConnectorKind
from crossdock.connectors.walmart.client import Answer, WalmartClient
from crossdock.connectors.walmart.codec import encode_acknowledge, needs_acknowledgement
from crossdock.connectors.walmart.config import WalmartConfig
from crossdock.connectors.walmart.order_codec import (
    decode_listing,
    encode_cancellation,
    encode_shipment,
    shows_shipment,
    snapshot_version,
    updated_at,
)
from crossdock.domain.shipments import Shipment
from crossdock.errors import PermanentError, TransientError

ORDERS_PATH = "/v3/orders"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _latest_change(orders: list[dict]) -> float | None:
    """The latest change (seconds) among these orders, from their lines' `statusDate`."""
    stamps = [_ts(updated_at(order)) for order in orders]
    known = [t for t in stamps if t is not None]
    return max(known) if known else None


def _ts(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _order_path(purchase_order_id: str, action: str = "") -> str:
    return f"{ORDERS_PATH}/{quote(purchase_order_id, safe='')}{'/' + action if action else ''}"


def _body(answer: Answer, operation: str) -> Any:
    if answer.body is None:  # a 2xx whose body is not JSON: ask again
        raise TransientError(f"Walmart {operation} answered {answer.status} without a JSON body")
    return answer.body


class WalmartChannel:
    channel = "walmart"
    requires_acknowledgement = True

    def __init__(self, config: WalmartConfig | Mapping[str, Any], ctx: ConnectorContext) -> None:
        self.config = config if isinstance(config, WalmartConfig) else WalmartConfig.model_validate(config)
        self.ctx = ctx
        self.client = WalmartClient(self.config, ctx)

    # -- polling -----------------------------------------------------------------------------

    def snapshot_ref(self, order: dict) -> tuple[str, str]:
        """(purchase order id, version) of a polled order: one message per state of the order."""
        return str(order.get("purchaseOrderId", "")), snapshot_version(order)

    async def poll_orders(self, cursor: str | None) -> OrderPage:
        """One `GET /v3/orders` page of orders modified in a window. The cursor (JSON) holds
        `after`, and while a listing is paged also its `before` and Walmart's `next` page
        (its `nextCursor`, a query string that carries the listing's filters).

        A listing covers `after` ... now (`lastModifiedStartDate`/`lastModifiedEndDate`;
        `createdStartDate` reaches back `created_window_days`, else Walmart shows only a
        week). The next listing starts at this one's end minus `poll_overlap_seconds`: a few
        orders come again (the same snapshot is dropped downstream by its idempotency key),
        none is missed when Walmart lists a change late.
        """
        state = self._read_cursor(cursor)
        after = state["after"]
        if state.get("next"):
            params = dict(parse_qsl(str(state["next"]).lstrip("?"), keep_blank_values=True))
            before = str(state["before"])
        else:
            # The window ends a second ago (its end counts whole seconds): an order that changes
            # while this listing is paged is then out of it, not moved within it, and the
            # change shows in `totalCount` (below).
            before = _iso(self.ctx.clock() - 1)
            created = (_ts(after) or 0.0) - self.config.created_window_days * 86_400
            params = {"lastModifiedStartDate": after, "lastModifiedEndDate": before,
                      "createdStartDate": _iso(created), "limit": str(self.config.page_size)}  # fmt: skip
        try:
            answer = await self.client.call("getAllOrders", "GET", ORDERS_PATH, params=params)
            page = decode_listing(_body(answer, "getAllOrders"))
        except PermanentError as exc:
            if exc.category == "remote.not_found":  # Walmart's answer when nothing matches
                return self._last_page([], after, before)
            if state.get("next") and exc.category == "remote.rejected":
                # An expired or unknown page cursor: list the same window again from its start.
                return OrderPage([], self._dump({"after": after}), more=True)
            raise
        # Walmart pages by position (`poIndex`): an order of an earlier page that changes
        # meanwhile leaves the window, the later pages shift forward, and the orders at a page's
        # end are on no page. Seen as a smaller `totalCount` on a later page; the next listing
        # then starts no later than the first page's last change (`resume`), where they are.
        if state.get("next") is None:
            total, shifted = page.total, False
            resume = _latest_change(page.orders) if page.next_cursor else None
        else:
            total, resume = state.get("total"), state.get("resume")
            shifted = bool(state.get("shifted")) or (page.total is not None and page.total != total)
        if page.next_cursor:
            paging = {"after": after, "before": before, "next": page.next_cursor, "total": total,
                      "resume": resume, "shifted": shifted}  # fmt: skip
            return OrderPage(page.orders, self._dump(paging), more=True)
        return self._last_page(page.orders, after, before, resume if shifted else None)

    def _last_page(self, orders: list[dict], after: str, before: str, resume: float | None = None) -> OrderPage:
        start, end = _ts(after) or 0.0, _ts(before) or 0.0
        following = max(start, end - self.config.poll_overlap_seconds)
        if resume is not None:
            following = max(start, min(following, resume))
        return OrderPage(orders, self._dump({"after": _iso(following)}), more=False)

    def _read_cursor(self, cursor: str | None) -> dict[str, Any]:
        state: Any = None
        if cursor:
            try:
                state = orjson.loads(cursor)
            except orjson.JSONDecodeError:
                state = None
        if not isinstance(state, dict) or _ts(state.get("after")) is None:
            if cursor:
                raise PermanentError(
                    "config.cursor",
                    f"unreadable Walmart poll cursor {cursor[:200]!r}",
                    'Reset the connection\'s cursor to {"after": "<ISO date>"} or clear it.',
                )
            return {"after": _iso(self.ctx.clock() - self.config.first_poll_lookback_hours * 3600)}
        return state

    @staticmethod
    def _dump(state: dict[str, Any]) -> str:
        return orjson.dumps(state).decode()

    async def get_order(self, purchase_order_id: str) -> dict:
        """The order as Walmart holds it now (getAnOrder)."""
        body = _body(
            await self.client.call("getAnOrder", "GET", _order_path(purchase_order_id)), "getAnOrder"
        )
        order = body.get("order") if isinstance(body, dict) else None
        if not isinstance(order, dict):
            raise CodecError("order", "getAnOrder answered without an order object", system="walmart")
        return order

    async def order_items(self, channel_order_id: str) -> list[dict]:
        """The order's lines (a listed Walmart order already holds them)."""
        lines = ((await self.get_order(channel_order_id)).get("orderLines") or {}).get("orderLine")
        return [line for line in lines or [] if isinstance(line, dict)]

    # -- acknowledgement ---------------------------------------------------------------------

    async def acknowledge_order(self, order: ChannelOrderRef) -> None:
        """`POST /v3/orders/{purchaseOrderId}/acknowledge` (the whole order). Refused because
        no line is `Created` any more (acknowledged before, shipped or cancelled): done."""
        request = encode_acknowledge(order.channel_order_id)
        try:
            await self.client.call("acknowledgeOrders", request.method, request.path)
        except PermanentError as exc:
            if exc.category != "remote.rejected":
                raise
            if needs_acknowledgement(await self.get_order(order.channel_order_id)):
                raise

    # -- shipments ---------------------------------------------------------------------------

    @staticmethod
    def _reference(purchase_order_id: str, body: dict[str, Any]) -> str:
        numbers = sorted({
            status["trackingInfo"]["trackingNumber"]
            for line in body["orderShipment"]["orderLines"]["orderLine"]
            for status in line["orderLineStatuses"]["orderLineStatus"]
        })  # fmt: skip
        return f"{purchase_order_id}:{'+'.join(numbers)}"

    async def confirm_shipment(self, order: ChannelOrderRef, shipment: Shipment) -> str:
        """One shipping update with every line of `shipment` (partial quantities as shipped);
        answers `<purchaseOrderId>:<tracking numbers>`."""
        po = order.channel_order_id
        body = encode_shipment(po, self._channel_lines(order, shipment))
        await self.client.call("shippingUpdates", "POST", _order_path(po, "shipping"), json=body)
        return self._reference(po, body)

    async def find_shipment_confirmation(self, order: ChannelOrderRef, shipment: Shipment) -> str | None:
        """The reference of `shipment` when Walmart shows its units shipped under its tracking
        number (exact: each confirmation names its tracking number per line)."""
        po = order.channel_order_id
        try:
            shipment = self._channel_lines(order, shipment)
            body = encode_shipment(po, shipment)
        except CodecError:
            return None  # confirm_shipment cannot have sent anything for it
        return self._reference(po, body) if shows_shipment(await self.get_order(po), shipment) else None

    @staticmethod
    def _channel_lines(order: ChannelOrderRef, shipment: Shipment) -> Shipment:
        """The shipment with Walmart's line numbers (canonical line ids are line numbers unless
        the order names others)."""
        if not order.line_refs:
            return shipment

        def renamed(lines: tuple) -> tuple:
            return tuple(
                replace(line, line_id=order.line_refs.get(line.line_id, line.line_id)) for line in lines
            )

        packages = tuple(replace(p, lines=renamed(p.lines)) for p in shipment.packages)
        return replace(shipment, lines=renamed(shipment.lines), packages=packages)

    # -- cancellations -----------------------------------------------------------------------

    async def cancel_lines(self, order: ChannelOrderRef, lines: Mapping[str, Decimal], reason: str) -> None:
        """`POST /v3/orders/{purchaseOrderId}/cancel`: these units will not ship."""
        by_number = {order.line_refs.get(k, k): v for k, v in lines.items()}
        body = encode_cancellation(by_number, reason)
        po = order.channel_order_id
        await self.client.call("cancelOrderLines", "POST", _order_path(po, "cancel"), json=body)


KIND = ConnectorKind("walmart", build=lambda config, ctx: WalmartChannel(config, ctx))
