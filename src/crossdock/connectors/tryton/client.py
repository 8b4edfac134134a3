"""Crossdock's client for a Tryton ERP over JSON-RPC (aiohttp).

Every failure leaves as a classified Crossdock error (see ``rpc.py``). A timeout after
the request was sent is ``TransientError(ambiguous=True)``: the sale may exist, so the
order flow looks it up with ``find_sale_by_reference`` before creating it again.
"""

from __future__ import annotations

import asyncio
import base64
from decimal import Decimal
from typing import Any

import aiohttp

from crossdock.errors import PermanentError, TransientError

from . import rpc

SHIPMENT_FIELDS = ["number", "state", "reference", "effective_date", "planned_date",
                   "warehouse_storage", "warehouse_output", "outgoing_moves"]
INVOICE_FIELDS = ["number", "state", "type", "invoice_date", "untaxed_amount", "tax_amount",
                  "total_amount", "currency", "lines"]


class TrytonClient:
    """One Tryton database, one user; safe to share between tasks of one event loop."""

    def __init__(self, url: str, database: str, username: str, password: str, *,
                 session: aiohttp.ClientSession | None = None,
                 connect_timeout: float = 5.0, read_timeout: float = 30.0) -> None:
        self.rpc_url = f"{url.rstrip('/')}/{database}/rpc/"
        self.username = username
        self._password = password
        self._own_session = session is None
        self._http = session
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout,
                                              sock_read=read_timeout)
        self._auth: str | None = None
        self._login_lock = asyncio.Lock()
        self._next_id = 0
        self.context: dict[str, Any] = {}
        self._sale_fields: set[str] | None = None

    async def __aenter__(self) -> TrytonClient:
        await self.login()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._http is not None:
            await self._http.close()
            self._http = None

    # -- transport -------------------------------------------------------------------

    async def _post(self, method: str, params: list, auth: str | None) -> tuple[int, Any, Any]:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        self._next_id += 1
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = auth
        body = rpc.dumps({"id": self._next_id, "method": method, "params": params})
        try:
            async with self._http.post(self.rpc_url, data=body, headers=headers,
                                       timeout=self._timeout) as response:
                raw = await response.read()
                return response.status, raw, response.headers
        except aiohttp.ConnectionTimeoutError as exc:
            raise TransientError(f"Tryton connect timeout on {method}: {exc}") from exc
        except aiohttp.ClientConnectorError as exc:
            raise TransientError(f"Tryton unreachable on {method}: {exc}") from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise TransientError(f"Tryton read timeout on {method}", ambiguous=True) from exc
        except aiohttp.ClientError as exc:  # dropped after sending: it may have taken effect
            raise TransientError(f"Tryton connection lost on {method}: {exc}", ambiguous=True) from exc

    @staticmethod
    def _result(method: str, status: int, raw: bytes, headers: Any) -> Any:
        if status != 200:
            raise rpc.error_from_status(status, raw.decode(errors="replace"), headers, method)
        try:
            payload = rpc.loads(raw)
        except ValueError as exc:
            raise TransientError(f"Tryton sent unreadable JSON for {method}") from exc
        if isinstance(payload, dict) and payload.get("error") is not None:
            raise rpc.error_from_payload(payload["error"], method)
        return payload.get("result") if isinstance(payload, dict) else payload

    async def login(self) -> None:
        """Open a session and load the user's context (company, language)."""
        method = "common.db.login"
        status, raw, headers = await self._post(method, [self.username, {"password": self._password}], None)
        if status in (401, 403):
            raise PermanentError(
                "auth.invalid_credentials", f"Tryton refused the login of {self.username!r}",
                hint="Check the Tryton user name and password in the connection settings.")
        user_id, session, *_ = self._result(method, status, raw, headers)
        token = base64.b64encode(f"{self.username}:{user_id}:{session}".encode()).decode()
        self._auth = f"Session {token}"
        self.context = await self._authed("model.res.user.get_preferences", [True, {}])

    async def _relogin(self, stale: str | None) -> None:
        async with self._login_lock:
            if self._auth == stale:  # nobody else renewed it meanwhile
                await self.login()

    async def _authed(self, method: str, params: list) -> Any:
        for attempt in (1, 2):
            auth = self._auth
            if auth is None:
                await self._relogin(None)
                auth = self._auth
            status, raw, headers = await self._post(method, params, auth)
            if status in (401, 403) and attempt == 1:  # session expired: log in again, once
                await self._relogin(auth)
                continue
            return self._result(method, status, raw, headers)
        raise AssertionError("unreachable")

    async def call(self, model: str, method: str, *args: Any) -> Any:
        """``model.<model>.<method>(*args, context)``."""
        return await self._authed(f"model.{model}.{method}", [*args, self.context])

    async def search_read(self, model: str, domain: list, fields: list[str], *,
                          limit: int | None = None, order: list | None = None) -> list[dict]:
        return await self.call(model, "search_read", domain, 0, limit, order, fields)

    async def read(self, model: str, ids: list[int], fields: list[str]) -> list[dict]:
        return await self.call(model, "read", ids, fields) if ids else []

    # -- parties and products --------------------------------------------------------

    async def find_party_by_code_or_name(self, code: str | None = None, name: str | None = None) -> int | None:
        for field, value in (("code", code), ("name", name)):
            if value:
                found = await self.call("party.party", "search", [(field, "=", value)], 0, 1, [("id", "ASC")])
                if found:
                    return found[0]
        return None

    async def _lookup_code(self, model: str, code: str, category: str) -> int:
        found = await self.call(model, "search", [("code", "=", code)], 0, 1, None)
        if not found:
            raise PermanentError(category, f"{model} {code!r} is not in Tryton",
                                 hint=f"Create {code!r} in Tryton or map it to one that exists.")
        return found[0]

    async def create_party(self, name: str, address: dict | None = None, code: str | None = None) -> int:
        """`address`: street, postal_code, city, country (ISO code); all optional."""
        values: dict[str, Any] = {"name": name}
        if code:
            values["code"] = code
        if address:
            addr = {k: address[k] for k in ("street", "postal_code", "city") if address.get(k)}
            if address.get("country"):
                addr["country"] = await self._lookup_code(
                    "country.country", address["country"].upper(), "mapping.country_unknown")
            values["addresses"] = [["create", [addr]]]
        (party_id,) = await self.call("party.party", "create", [values])
        return party_id

    async def find_products_by_code(self, codes: list[str]) -> dict[str, dict]:
        """Products by code: {code: {id, name, unit, list_price}}; unknown codes are absent."""
        if not codes:
            return {}
        rows = await self.search_read("product.product", [("code", "in", list(codes))],
                                      ["code", "rec_name", "default_uom", "list_price_used"])
        return {r["code"]: {"id": r["id"], "name": r["rec_name"], "unit": r["default_uom"],
                            "list_price": r["list_price_used"]} for r in rows}

    # -- sales -----------------------------------------------------------------------

    async def find_sale_by_reference(self, reference: str) -> dict | None:
        """The sale carrying the channel's order reference, newest first, or None."""
        rows = await self.search_read("sale.sale", [("reference", "=", reference)],
                                      ["number", "state", "reference"], limit=1, order=[("id", "DESC")])
        return rows[0] if rows else None

    async def create_sale(self, party: int, lines: list[dict], reference: str,
                          currency: str | None = None, *, address: int | None = None) -> int:
        """A draft sale; each line: product (id), quantity, unit_price, optional unit (id)."""
        if address is None:
            (row,) = await self.read("party.party", [party], ["addresses"])
            if not row["addresses"]:
                raise PermanentError("validation.address_missing", f"Tryton party {party} has no address",
                                     hint="Add an address to the customer in Tryton.")
            address = row["addresses"][0]
        units = {}
        missing_unit = [ln["product"] for ln in lines if not ln.get("unit")]
        if missing_unit:
            units = {r["id"]: r["default_uom"]
                     for r in await self.read("product.product", missing_unit, ["default_uom"])}
        values: dict[str, Any] = {
            "party": party, "invoice_address": address, "shipment_address": address,
            "reference": reference,
            "lines": [["create", [{
                "type": "line", "product": ln["product"], "quantity": float(ln["quantity"]),
                "unit": ln.get("unit") or units[ln["product"]],
                "unit_price": Decimal(str(ln["unit_price"])),
            } for ln in lines]]],
        }
        if currency:
            values["currency"] = await self._lookup_code("currency.currency", currency.upper(),
                                                         "mapping.currency_unknown")
        if self._sale_fields is None:
            self._sale_fields = set(await self.call("sale.sale", "fields_get", ["shipment_cost_method"]))
        if "shipment_cost_method" in self._sale_fields:  # no carrier: no shipment cost line
            values["shipment_cost_method"] = None
        (sale_id,) = await self.call("sale.sale", "create", [values])
        return sale_id

    async def quote_and_confirm(self, sale_id: int) -> str:
        """Move a sale on to confirmed; repeat-safe (done steps are skipped). Returns the state."""
        for _ in range(3):
            (row,) = await self.read("sale.sale", [sale_id], ["state"])
            step = {"draft": "quote", "quotation": "confirm"}.get(row["state"])
            if step is None:
                return row["state"]
            await self.call("sale.sale", step, [sale_id])
        (row,) = await self.read("sale.sale", [sale_id], ["state"])
        return row["state"]

    async def read_shipments(self, sale_id: int) -> list[dict]:
        """Customer shipments of a sale, each with its outgoing moves (product, quantity, state)."""
        (sale,) = await self.read("sale.sale", [sale_id], ["shipments"])
        shipments = await self.read("stock.shipment.out", sale["shipments"], SHIPMENT_FIELDS)
        move_ids = [m for s in shipments for m in s["outgoing_moves"]]
        moves = {m["id"]: m for m in await self.read("stock.move", move_ids,
                                                     ["product", "quantity", "state"])}
        for shipment in shipments:
            shipment["moves"] = [moves[m] for m in shipment.pop("outgoing_moves")]
        return shipments

    async def read_invoices(self, sale_id: int) -> list[dict]:
        (sale,) = await self.read("sale.sale", [sale_id], ["invoices"])
        return await self.read("account.invoice", sale["invoices"], INVOICE_FIELDS)

    # -- warehouse and accounting steps (tests and demos play the distributor) --------

    async def complete_shipment(self, shipment_id: int) -> str:
        """Reserve, pick, pack and ship a customer shipment: waiting→assigned→picked→packed→done."""
        for _ in range(6):
            (row,) = await self.read("stock.shipment.out", [shipment_id], SHIPMENT_FIELDS)
            state = row["state"]
            if state in ("done", "cancelled"):
                return state
            if state == "assigned" and row["warehouse_storage"] == row["warehouse_output"]:
                step = "pack"  # a warehouse without a picking step
            else:
                step = {"draft": "wait", "waiting": "assign_try", "assigned": "pick",
                        "picked": "pack", "packed": "do", "shipped": "do"}[state]
            await self.call("stock.shipment.out", step, [shipment_id])
            if step == "assign_try":
                (after,) = await self.read("stock.shipment.out", [shipment_id], ["state"])
                if after["state"] == "waiting":
                    raise PermanentError("business.stock_unavailable",
                                         f"Tryton shipment {row['number']} cannot be reserved",
                                         hint="Receive stock for its products in Tryton, then retry.")
        raise TransientError(f"Tryton shipment {shipment_id} did not reach done")

    async def set_shipment_reference(self, shipment_id: int, reference: str) -> None:
        """Store the carrier's tracking reference on the shipment (field ``reference``)."""
        await self.call("stock.shipment.out", "write", [shipment_id], {"reference": reference})

    async def post_invoice(self, invoice_id: int) -> None:
        await self.call("account.invoice", "post", [invoice_id])
