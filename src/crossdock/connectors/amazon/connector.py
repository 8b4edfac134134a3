"""Amazon as a sales channel: orders polled from the Orders API v0, shipments confirmed per package.

Implements `SalesChannel` and `OrderSource`. Orders v0 has no acknowledgement operation
(orders are not "accepted" by the seller through it), so `requires_acknowledgement` is
False and `acknowledge_order` does nothing. It has no line cancellation either: see
`cancel_lines`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import orjson

from crossdock.connectors.amazon.client import SpAnswer, SpApiClient
from crossdock.connectors.amazon.codec import encode_confirm_shipment
from crossdock.connectors.amazon.config import AmazonConfig
from crossdock.connectors.amazon.inbound import AmazonNotificationVerifier
from crossdock.connectors.amazon.rdt import RdtAuth
from crossdock.connectors.capabilities import ChannelOrderRef, OrderPage
from crossdock.connectors.codec_errors import CodecError
from crossdock.connectors.registry import ConnectorContext, ConnectorKind
from crossdock.domain.shipments import Shipment
from crossdock.errors import PermanentError
from crossdock.records import LineageRecord

ORDERS_PATH = "/orders/v0/orders"
MAX_ITEM_PAGES = 100  # getOrderItems pages per order; far beyond any real order
CONFIRMED_KEY = "amazon.confirmed_packages"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ts(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _payload(answer: SpAnswer, operation: str) -> dict[str, Any]:
    payload = answer.body.get("payload") if isinstance(answer.body, dict) else None
    if not isinstance(payload, dict):
        raise CodecError("payload", f"{operation} answered without a payload object", system="amazon")
    return payload


def _order_path(order_id: str) -> str:
    return f"{ORDERS_PATH}/{quote(order_id, safe='')}"


class AmazonChannel:
    channel = "amazon"
    requires_acknowledgement = False

    def __init__(self, config: AmazonConfig | Mapping[str, Any], ctx: ConnectorContext) -> None:
        self.config = config if isinstance(config, AmazonConfig) else AmazonConfig.model_validate(config)
        self.ctx = ctx
        self.client = SpApiClient(self.config, ctx)

    async def acknowledge_order(self, order: ChannelOrderRef) -> None:
        return None  # Orders v0 has nothing to acknowledge

    # -- polling -----------------------------------------------------------------------------

    def snapshot_ref(self, order: dict) -> tuple[str, str]:
        # Status too: LastUpdateDate has whole seconds, and a cancellation may share its second.
        return order["AmazonOrderId"], f"{order.get('LastUpdateDate', '')}@{order.get('OrderStatus', '')}"

    async def poll_orders(self, cursor: str | None) -> OrderPage:
        """One getOrders call. A listing covers `[LastUpdatedAfter, the bound Amazon states]`
        as windows that each fit on one page; the cursor (JSON) holds the listing's `From`
        and `Until` and the window being read (`LastUpdatedAfter`, `LastUpdatedBefore`).

        Why windows and not NextToken: Amazon documents no order for a listing's pages, and
        an order updated while a listing is paged (the hub's own confirmShipment, a buyer's
        cancellation) leaves the listing's window. A listing paged by position then moves
        every later order up by one and the order at the next page's edge is never shown.
        A window that fits on one page is read in one answer, so nothing can move under it.
        A window whose answer has a NextToken is narrowed (to the page's last second when
        the page looks ordered, else by half) and its page dropped; a window that fits is
        followed by one as wide when it was at least half full, else by the rest of the
        listing. Only a window of one second (Amazon's dates have whole seconds) is paged by
        NextToken. A backlog costs about two calls a page; a poll with less than a page of
        news, one call.

        When the last window is read, the next listing starts at the listing's `Until`
        minus `poll_overlap_seconds`, never before its `From`. The overlap costs a few
        repeated orders and buys no gaps: getOrders shows most, not all, changes within two
        minutes, and an order that surfaces late with an older `LastUpdateDate` would
        otherwise fall behind the watermark for good. Repeats are dropped downstream by
        their idempotency key, AmazonOrderId + LastUpdateDate.
        """
        state = self._read_cursor(cursor)
        after = _ts(state["LastUpdatedAfter"]) or 0.0
        window = {k: state.get(k) for k in ("From", "Until", "LastUpdatedAfter", "LastUpdatedBefore")}
        params = {"MarketplaceIds": ",".join(self.config.marketplace_ids),
                  "MaxResultsPerPage": str(self.config.page_size)}  # fmt: skip
        token = state.get("NextToken")
        if token:
            params["NextToken"] = token
        else:
            params["LastUpdatedAfter"] = state["LastUpdatedAfter"]
            if state.get("LastUpdatedBefore"):
                params["LastUpdatedBefore"] = state["LastUpdatedBefore"]
        try:
            answer = await self.client.call("getOrders", "GET", ORDERS_PATH, params=params)
        except PermanentError as exc:
            if token and exc.category == "remote.rejected":
                # An expired or unknown NextToken: read the same window again from its start.
                return OrderPage([], self._dump(window), more=True)
            raise
        payload = _payload(answer, "getOrders")
        orders = [o for o in payload.get("Orders") or [] if isinstance(o, dict)]
        seen = [t for t in (_ts(o.get("LastUpdateDate")) for o in orders) if t is not None]
        until = _ts(state.get("Until")) or _ts(payload.get("LastUpdatedBefore"))
        end = _ts(state.get("LastUpdatedBefore")) or until
        window["From"] = state.get("From") or state["LastUpdatedAfter"]
        window["Until"] = _iso(until) if until else None
        if payload.get("NextToken") and not token and end is not None and end - after >= 2:
            # Narrowed to the page's earlier seconds once: if the page was ordered by date they
            # fit one page (or, when the page is all of one second, that second is paged); if
            # that window pages again the order was chance, and it is halved.
            ordered = len(seen) == len(orders) and all(x <= y for x, y in zip(seen, seen[1:], strict=False))
            if ordered and not state.get("Narrowed") and seen[-1] - 1 < end:
                narrowed = {**window, "LastUpdatedBefore": _iso(max(after + 1, seen[-1] - 1)), "Narrowed": True}
                return OrderPage([], self._dump(narrowed), more=True)
            halved = {**window, "LastUpdatedBefore": _iso(after + (end - after) // 2)}
            return OrderPage([], self._dump(halved), more=True)
        max_seen = max([*seen, _ts(state.get("MaxSeen")) or 0.0]) or None
        if payload.get("NextToken"):
            paging = {**window, "LastUpdatedBefore": _iso(end) if end else None,
                      "NextToken": payload["NextToken"], "MaxSeen": _iso(max_seen) if max_seen else None}  # fmt: skip
            return OrderPage(orders, self._dump(paging), more=True)
        if until is not None and end is not None and end < until:
            dense = len(orders) * 2 >= self.config.page_size
            following = {**window, "LastUpdatedAfter": _iso(end),
                         "LastUpdatedBefore": _iso(min(until, end + max(1.0, end - after))) if dense else None}  # fmt: skip
            return OrderPage(orders, self._dump(following), more=True)
        start = _ts(window["From"]) or after
        watermark = until or max_seen
        nxt = max(start, watermark - self.config.poll_overlap_seconds) if watermark else start
        return OrderPage(orders, self._dump({"LastUpdatedAfter": _iso(nxt)}), more=False)

    def _read_cursor(self, cursor: str | None) -> dict[str, Any]:
        state: Any = None
        if cursor:
            try:
                state = orjson.loads(cursor)
            except orjson.JSONDecodeError:
                state = None
        if not isinstance(state, dict) or _ts(state.get("LastUpdatedAfter")) is None:
            if cursor:
                raise PermanentError(
                    "config.cursor",
                    f"unreadable Amazon poll cursor {cursor[:200]!r}",
                    'Reset the connection\'s cursor to {"LastUpdatedAfter": "<ISO date>"} or clear it.',
                )
            lookback = self.config.first_poll_lookback_hours * 3600
            return {"LastUpdatedAfter": _iso(self.ctx.clock() - lookback)}
        return state

    @staticmethod
    def _dump(state: dict[str, Any]) -> str:
        return orjson.dumps({k: v for k, v in state.items() if v is not None}).decode()

    async def order_address(self, channel_order_id: str) -> dict | None:
        """The order's full `ShippingAddress` (getOrderAddress), None when Amazon has none yet
        (a Pending order). Personal data: the call takes a Restricted Data Token for exactly
        this path (see rdt.py); the answer stays in lineage, which retention purges."""
        path = f"{_order_path(channel_order_id)}/address"
        auth = RdtAuth(self.client, "GET", path)
        answer = await self.client.call("getOrderAddress", "GET", path, auth=auth)
        address = _payload(answer, "getOrderAddress").get("ShippingAddress")
        return address if isinstance(address, dict) and address else None

    async def order_items(self, channel_order_id: str) -> list[dict]:
        items: list[dict] = []
        params: dict[str, str] | None = None
        path = f"{_order_path(channel_order_id)}/orderItems"
        for _ in range(MAX_ITEM_PAGES):
            payload = _payload(
                await self.client.call("getOrderItems", "GET", path, params=params), "getOrderItems"
            )
            items += [i for i in payload.get("OrderItems") or [] if isinstance(i, dict)]
            if not payload.get("NextToken"):
                return items
            params = {"NextToken": str(payload["NextToken"])}
        raise PermanentError("remote.rejected", f"getOrderItems of {channel_order_id} never stopped paging")

    # -- shipments ---------------------------------------------------------------------------

    def _bodies(self, shipment: Shipment) -> list[dict]:
        # Orders carry one marketplace each; a connection confirms in its first marketplace.
        return encode_confirm_shipment(shipment, marketplace_id=self.config.marketplace_ids[0])

    @staticmethod
    def _reference(order_id: str, bodies: list[dict]) -> str:
        return f"{order_id}:{'+'.join(b['packageDetail']['packageReferenceId'] for b in bodies)}"

    async def confirm_shipment(self, order: ChannelOrderRef, shipment: Shipment) -> str:
        """One confirmShipment per package; answers `<AmazonOrderId>:<package refs>`.

        Packages this process already confirmed for the shipment are not sent again when a
        later package failed and the whole shipment is retried (best effort: the memory
        lives with the process)."""
        order_id = order.channel_order_id
        bodies = self._bodies(shipment)
        progress: dict[tuple[str, str], set[str]] = self.ctx.cache.setdefault(CONFIRMED_KEY, {})
        key = (order_id, shipment.shipment_id)
        done = progress.setdefault(key, set())
        path = f"{_order_path(order_id)}/shipmentConfirmation"
        for body in bodies:
            ref = body["packageDetail"]["packageReferenceId"]
            if ref in done:
                continue
            await self.client.call("confirmShipment", "POST", path, body=body)
            done.add(ref)
        progress.pop(key, None)  # only partly confirmed shipments are remembered
        return self._reference(order_id, bodies)

    async def find_shipment_confirmation(self, order: ChannelOrderRef, shipment: Shipment) -> str | None:
        """The reference of this shipment when Amazon already counts its units as shipped.

        Amazon offers no lookup of confirmations, only each item's cumulative
        `QuantityShipped` (getOrderItems, read live). The shipment counts as confirmed
        when every one of its lines has at least its quantity shipped. Exact when a line
        ships in one shipment, the usual case. Limits: when one line ships in several
        shipments, units confirmed by an earlier shipment satisfy the check too, so a lost
        later confirmation can be taken for done (a missed confirmation, never a
        duplicate); and with several packages, a partly applied shipment reads as not done
        (its unsent packages are then sent, the applied ones again unless this process
        remembers them).
        """
        try:
            bodies = self._bodies(shipment)
        except CodecError:
            return None  # confirm_shipment cannot have sent anything for it
        items = {str(i.get("OrderItemId")): i for i in await self.order_items(order.channel_order_id)}
        for line_id in {line.line_id for line in shipment.lines}:
            item = items.get(line_id)
            shipped = Decimal(str(item.get("QuantityShipped") or 0)) if item else Decimal(0)
            if shipped < shipment.quantity_of(line_id):
                return None
        return self._reference(order.channel_order_id, bodies)

    async def cancel_lines(self, order: ChannelOrderRef, lines: Mapping[str, Decimal], reason: str) -> None:
        """Orders v0 cannot cancel lines; the note in lineage says what was not sent. (Sellers
        cancel through Seller Central or the order-acknowledgement feed, which Crossdock
        does not send yet.)"""
        note = {
            "not_sent": "cancel_lines",
            "why": "Amazon Orders API v0 has no operation to cancel order lines",
            "order": order.channel_order_id,
            "lines": {k: str(v) for k, v in lines.items()},
            "reason": reason,
        }
        self.ctx.record(
            LineageRecord(
                direction="out",
                connection_id=self.ctx.connection_id,
                url=f"{self.config.endpoint}{_order_path(order.channel_order_id)}",
                request_body=orjson.dumps(note).decode(),
                error="not sent: no line cancellation in Orders API v0",
            )
        )


KIND = ConnectorKind(
    "amazon", build=lambda config, ctx: AmazonChannel(config, ctx), inbound=AmazonNotificationVerifier()
)
