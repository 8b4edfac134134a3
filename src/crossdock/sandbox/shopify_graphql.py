"""The slice of Shopify's Admin GraphQL API (2026-04) the hub uses, without a GraphQL parser.

Contract the hub keeps (and the sandbox relies on):
- one root field per request, recognised by its name (an alias `x: field` is honoured);
- every argument is passed through `variables`, each variable named after its argument
  (`$id`, `$fulfillment`, `$message`, `$input`, `$productId`, `$variants`, `$query`,
  `$first`, `$identifier`); inline literals are not read, except a connection's `first:`
  and the `@idempotent(key: "...")` directive (a literal or a `$variable`);
- answers hold a fixed superset of the fields a client may select; a connection carries
  both `nodes` and `edges { node cursor }` plus `pageInfo` (no further pages).

Roots: mutations `fulfillmentCreate(fulfillment, message)`, `inventorySetQuantities(input)`
(requires `@idempotent` and `changeFromQuantity` on every quantity, ≤ 250 quantities; a
repeated key answers the first result without applying anything), `productSet(input)`,
`productVariantsBulkUpdate(productId, variants)`; queries `order(id)` (with its fulfillment
orders and their line item ids), `productVariants(first, query: "sku:A OR sku:B")`,
`inventoryItems(first, query, locationId)` (with levels, and `inventoryLevel` at `$locationId`),
`locations(first)`.

Costs: a mutation requests 10 points (Shopify's documented mutation cost); a query requests
1 + Σ(2 + first) over the `first:` arguments in its text and actually costs 1 + the nodes it
returns. Shopify multiplies nested connections; this estimate adds them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crossdock.sandbox.shopify import ShopifyStore

MUTATION_COST = 10
MAX_INPUT_ARRAY = 250
_HEAD = re.compile(r"^\s*(?:(query|mutation|subscription)\b)?[^{]*\{\s*(?:(\w+)\s*:\s*)?(\w+)", re.S)
_IDEMPOTENT = re.compile(r'@idempotent\s*\(\s*key\s*:\s*(?:"((?:[^"\\]|\\.)*)"|\$(\w+))\s*\)')
_FIRST = re.compile(r"\bfirst\s*:\s*(\$?\w+)")
_SKU = re.compile(r"sku:(?:\"([^\"]+)\"|'([^']+)'|([^\s()]+))")


class GraphQLError(Exception):
    def __init__(self, message: str, code: str = "BAD_REQUEST") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Operation:
    kind: str  # query | mutation
    root: str
    key: str  # the alias, else the root name: the key under `data`
    variables: dict[str, Any]
    idempotency_key: str | None
    text: str


def parse(text: str, variables: dict[str, Any]) -> Operation:
    text = re.sub(r"#[^\n]*", "", text)
    head = _HEAD.match(text)
    if head is None:
        raise GraphQLError("Parse error: expected an operation with one root field")
    kind, alias, root = head.group(1) or "query", head.group(2), head.group(3)
    key = None
    if found := _IDEMPOTENT.search(text):
        key = found.group(1) if found.group(1) is not None else variables.get(found.group(2))
    return Operation(kind, root, alias or root, dict(variables), key, text)


def requested_cost(op: Operation) -> int:
    if op.kind == "mutation":
        return MUTATION_COST
    total = 1
    for ref in _FIRST.findall(op.text):
        value = op.variables.get(ref[1:]) if ref.startswith("$") else ref
        total += 2 + (int(value) if str(value).isdigit() else 0)
    return total


Resolver = Callable[["ShopifyStore", Operation], tuple[Any, int]]


def run(store: ShopifyStore, op: Operation, mutations: dict[str, Resolver]) -> tuple[dict[str, Any], int]:
    """(`data`/`errors` part of the answer, actual cost); resolvers answer (value, nodes)."""
    resolver = (mutations if op.kind == "mutation" else QUERIES).get(op.root)
    if resolver is None:
        where = "Mutation" if op.kind == "mutation" else "QueryRoot"
        error = {
            "message": f"Field '{op.root}' doesn't exist on type '{where}'",
            "extensions": {"code": "undefinedField", "typeName": where, "fieldName": op.root},
        }
        return {"errors": [error]}, 1
    try:
        value, nodes = resolver(store, op)
    except GraphQLError as exc:
        return {"errors": [{"message": str(exc), "extensions": {"code": exc.code}}]}, 1
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # variables of the wrong shape
        message = f"Variables do not match what {op.root} expects: {type(exc).__name__}: {exc}"
        return {"errors": [{"message": message, "extensions": {"code": "INVALID_VARIABLE"}}]}, 1
    actual = MUTATION_COST if op.kind == "mutation" else 1 + nodes
    return {"data": {op.key: value}}, actual


# -- helpers ------------------------------------------------------------------------------------


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def num(value: Any) -> int | None:
    text = str(value or "").rsplit("/", 1)[-1]
    return int(text) if text.isdigit() else None


def arg(op: Operation, *names: str, only: bool = False) -> Any:
    """The first of `names` in the variables; with `only`, else the one variable there is."""
    for name in names:
        if name in op.variables:
            return op.variables[name]
    return next(iter(op.variables.values())) if only and len(op.variables) == 1 else None


def first_of(op: Operation, default: int = 50) -> int:
    """`first` from the variables, else the first `first:` literal of the text."""
    if isinstance(op.variables.get("first"), int):
        return op.variables["first"]
    for ref in _FIRST.findall(op.text):
        value = op.variables.get(ref[1:]) if ref.startswith("$") else ref
        if str(value).isdigit():
            return int(value)
    return default


def connection(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "nodes": nodes,
        "edges": [{"node": n, "cursor": str(i)} for i, n in enumerate(nodes)],
        "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "endCursor": None},
    }


def check_size(items: list[Any]) -> None:
    if len(items) > MAX_INPUT_ARRAY:
        message = (
            f"The input array size of {len(items)} is greater than the maximum allowed of {MAX_INPUT_ARRAY}."
        )
        raise GraphQLError(message, "MAX_INPUT_SIZE_EXCEEDED")


def skus_of(op: Operation) -> list[str]:
    query = arg(op, "query", "q", "skus")
    if isinstance(query, list):
        return [str(s) for s in query]
    return [next(g for g in m if g) for m in _SKU.findall(str(query or ""))]


def user_error(field: list[Any], message: str, code: str | None = None) -> dict[str, Any]:
    return {"field": [str(f) for f in field], "message": message, "code": code}


# -- queries ------------------------------------------------------------------------------------


def q_order(store: ShopifyStore, op: Operation) -> tuple[Any, int]:
    order = store.orders.get(num(arg(op, "id", "orderId", only=True)) or -1)
    if order is None:
        return None, 0
    fos = [fo for fo in store.fulfillment_orders.values() if fo["order_id"] == order["id"]]
    fo_nodes = [
        {
            "id": gid("FulfillmentOrder", fo["id"]),
            "status": fo["status"],
            "lineItems": connection(
                [
                    {
                        "id": gid("FulfillmentOrderLineItem", li["id"]),
                        "totalQuantity": li["total"],
                        "remainingQuantity": li["remaining"],
                        "sku": li["sku"],
                        "lineItem": {"id": gid("LineItem", li["line_item_id"]), "sku": li["sku"]},
                    }
                    for li in fo["lines"]
                ]
            ),
        }
        for fo in fos
    ]
    status = {None: "UNFULFILLED", "partial": "PARTIALLY_FULFILLED", "fulfilled": "FULFILLED"}
    node = {
        "id": order["admin_graphql_api_id"],
        "legacyResourceId": str(order["id"]),
        "name": order["name"],
        "cancelledAt": order["cancelled_at"],
        "updatedAt": order["updated_at"],
        "displayFulfillmentStatus": status.get(order["fulfillment_status"], "UNFULFILLED"),
        "lineItems": connection(
            [
                {"id": li["admin_graphql_api_id"], "sku": li["sku"], "quantity": li["quantity"]}
                for li in order["line_items"]
            ]
        ),
        "fulfillmentOrders": connection(fo_nodes),
        "fulfillments": [_fulfillment_node(f) for f in order["fulfillments"]],
    }
    return node, 1 + len(fos) + sum(len(fo["lines"]) for fo in fos)


def _fulfillment_node(f: dict) -> dict:
    """`Order.fulfillments` in Shopify's shape: id, status, tracking per parcel and the units
    of each line item."""
    urls = f["tracking_urls"] + [None] * len(f["tracking_numbers"])
    return {
        "id": gid("Fulfillment", f["id"]),
        "status": f["status"].upper(),
        "trackingInfo": [
            {"company": f["tracking_company"], "number": n, "url": u}
            for n, u in zip(f["tracking_numbers"], urls, strict=False)
        ],
        "fulfillmentLineItems": {
            "nodes": [
                {"quantity": li["quantity"], "lineItem": {"id": gid("LineItem", li["line_item_id"])}}
                for li in f.get("line_items") or ()
            ]
        },
    }


def _variant_node(store: ShopifyStore, v: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": gid("ProductVariant", v["id"]),
        "sku": v["sku"],
        "price": v["price"],
        "compareAtPrice": v["compare_at_price"],
        "product": {"id": gid("Product", v["product_id"])},
        "inventoryItem": {"id": gid("InventoryItem", v["inventory_item_id"]), "sku": v["sku"]},
    }


def q_product_variants(store: ShopifyStore, op: Operation) -> tuple[Any, int]:
    wanted, first = set(skus_of(op)), first_of(op)
    found = [v for v in store.variants.values() if not wanted or v["sku"] in wanted][:first]
    return connection([_variant_node(store, v) for v in found]), len(found)


def q_inventory_items(store: ShopifyStore, op: Operation) -> tuple[Any, int]:
    wanted, first = set(skus_of(op)), first_of(op)
    found = [v for v in store.variants.values() if not wanted or v["sku"] in wanted][:first]
    nodes = []
    for v in found:
        levels = [
            {
                "id": f"gid://shopify/InventoryLevel/{item}?inventory_item_id={item}",
                "location": {"id": gid("Location", loc)},
                "quantities": [{"name": name, "quantity": qty} for name, qty in q.items()],
            }
            for (item, loc), q in store.inventory.items()
            if item == v["inventory_item_id"]
        ]
        nodes.append(
            {
                "id": gid("InventoryItem", v["inventory_item_id"]),
                "sku": v["sku"],
                "tracked": True,
                "variant": {"id": gid("ProductVariant", v["id"])},
                "inventoryLevels": connection(levels),
                "inventoryLevel": _level_at(store, v["inventory_item_id"], op.variables.get("locationId")),
            }
        )
    return connection(nodes), len(nodes) * 2


def _level_at(store: ShopifyStore, item: int, location: Any) -> dict[str, Any] | None:
    """`InventoryItem.inventoryLevel(locationId:)`: the item's level at one location, or null."""
    loc = num(location)
    level = store.inventory.get((item, loc)) if loc is not None else None
    if level is None:
        return None
    return {
        "id": f"gid://shopify/InventoryLevel/{item}?inventory_item_id={item}",
        "location": {"id": gid("Location", loc)},
        "quantities": [{"name": name, "quantity": qty} for name, qty in level.items()],
    }


def q_locations(store: ShopifyStore, op: Operation) -> tuple[Any, int]:
    loc = {"id": gid("Location", store.cfg.location_id), "name": "Sandbox Warehouse", "isActive": True}
    return connection([loc]), 1


QUERIES: dict[str, Resolver] = {
    "order": q_order,
    "productVariants": q_product_variants,
    "inventoryItems": q_inventory_items,
    "locations": q_locations,
}
