"""The Admin GraphQL mutations of the simulated Shopify store (contract: `shopify_graphql`).

Shapes follow the 2026-04 reference: `userErrors {field message code}` for business
refusals, top-level `errors` for malformed input. Every fulfillmentCreate call is
recorded, accepted or refused, so the snapshot shows a hub that fulfils twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crossdock.sandbox import shopify_catalog
from crossdock.sandbox.shopify_graphql import (
    GraphQLError,
    Operation,
    Resolver,
    arg,
    check_size,
    gid,
    num,
    user_error,
)

if TYPE_CHECKING:
    from crossdock.sandbox.shopify import ShopifyStore

QUANTITY_NAMES = ("available", "on_hand")


# -- fulfillmentCreate ----------------------------------------------------------------------------


def _plan_fulfillment(store: ShopifyStore, groups: list[dict[str, Any]]) -> tuple[list, list, int | None]:
    """(line moves, user errors, order id) for `lineItemsByFulfillmentOrder`."""
    moves, errors, order_id = [], [], None
    for i, group in enumerate(groups):
        where = ["fulfillment", "lineItemsByFulfillmentOrder", i]
        fo = store.fulfillment_orders.get(num(group.get("fulfillmentOrderId")) or -1)
        if fo is None:
            errors.append(user_error([*where, "fulfillmentOrderId"], "Fulfillment order does not exist."))
            continue
        order_id = fo["order_id"]
        if fo["status"] in ("CLOSED", "CANCELLED"):
            errors.append(
                user_error(
                    where,
                    f"Fulfillment order {fo['id']} has an unfulfillable status= {fo['status'].lower()}.",
                )
            )
            continue
        wanted = group.get("fulfillmentOrderLineItems") or [
            {"id": gid("FulfillmentOrderLineItem", li["id"]), "quantity": li["remaining"]}
            for li in fo["lines"]
        ]
        check_size(wanted)
        lines = {li["id"]: li for li in fo["lines"]}
        for j, item in enumerate(wanted):
            line = lines.get(num(item.get("id")) or -1)
            qty = int(item.get("quantity", line["remaining"] if line else 0))
            if line is None or qty <= 0 or qty > line["remaining"]:
                errors.append(
                    user_error(
                        [*where, "fulfillmentOrderLineItems", j],
                        "Invalid fulfillment order line item quantity requested.",
                    )
                )
            else:
                moves.append((fo, line, qty))
    return moves, errors, order_id


def fulfillment_create(store: ShopifyStore, op: Operation) -> tuple[Any, int]:
    spec = arg(op, "fulfillment") or {}
    groups = spec.get("lineItemsByFulfillmentOrder") or []
    check_size(groups)
    moves, errors, order_id = _plan_fulfillment(store, groups)
    if not groups:
        errors.append(user_error(["fulfillment", "lineItemsByFulfillmentOrder"], "Line items are required."))
    record = {"at": store.ctx.iso(), "order_id": order_id, "variables": op.variables, "user_errors": errors}
    store.fulfillment_requests.append(record)
    if errors:
        return {"fulfillment": None, "userErrors": errors}, 1
    tracking = spec.get("trackingInfo") or {}
    numbers = tracking.get("numbers") or ([tracking["number"]] if tracking.get("number") else [])
    urls = tracking.get("urls") or ([tracking["url"]] if tracking.get("url") else [])
    fulfillment_id = store.next_id(5_500_000_000_000)
    order = store.orders[moves[0][0]["order_id"]]
    by_line = {li["id"]: li for li in order["line_items"]}
    for fo, line, qty in moves:
        line["remaining"] -= qty
        by_line[line["line_item_id"]]["fulfillable_quantity"] -= qty
        fo["status"] = "CLOSED" if all(li["remaining"] == 0 for li in fo["lines"]) else "IN_PROGRESS"
    for li in order["line_items"]:
        done = li["fulfillable_quantity"] == 0
        li["fulfillment_status"] = (
            "fulfilled" if done else ("partial" if li["fulfillable_quantity"] < li["quantity"] else None)
        )
    remaining = sum(li["fulfillable_quantity"] for li in order["line_items"])
    order["fulfillment_status"] = "fulfilled" if remaining == 0 else "partial"
    fulfillment = {
        "id": fulfillment_id,
        "order_id": order["id"],
        "order_name": order["name"],
        "status": "success",
        "tracking_company": tracking.get("company"),
        "tracking_numbers": numbers,
        "tracking_urls": urls,
        "line_items": [
            {"line_item_id": line["line_item_id"], "sku": line["sku"], "quantity": qty}
            for _, line, qty in moves
        ],
        "notify_customer": bool(spec.get("notifyCustomer")),
        "message": arg(op, "message"),
        "created_at": store.ctx.iso(),
    }
    record["fulfillment_id"] = fulfillment_id
    store.fulfillments.append(fulfillment)
    order["fulfillments"].append({k: v for k, v in fulfillment.items() if k != "order_name"})
    store.touch(order)
    store.emit("orders/updated", order)
    info = [
        {"company": tracking.get("company"), "number": n, "url": u}
        for n, u in zip(numbers, urls + [None] * len(numbers), strict=False)
    ]
    node = {
        "id": gid("Fulfillment", fulfillment_id),
        "status": "SUCCESS",
        "trackingInfo": info,
        "createdAt": fulfillment["created_at"],
    }
    return {"fulfillment": node, "userErrors": []}, 1


# -- inventorySetQuantities ------------------------------------------------------------------------


STOCK_ERRORS = {
    "INVALID_NAME": "The quantity name must be 'available' or 'on_hand'.",
    "INVALID_REASON": "The reason is required.",
    "INVALID_INVENTORY_ITEM": "The inventory item could not be found at the location.",
    "CHANGE_FROM_QUANTITY_STALE": "The specified compare quantity does not match the current quantity.",
}


def inventory_set_quantities(store: ShopifyStore, op: Operation) -> tuple[Any, int]:
    if not op.idempotency_key:
        message = "inventorySetQuantities requires the @idempotent(key:) directive as of API 2026-04."
        raise GraphQLError(message)
    if op.idempotency_key in store.idempotency:
        store.idempotent_replays += 1
        return store.idempotency[op.idempotency_key], 1
    spec = arg(op, "input") or {}
    quantities = spec.get("quantities") or []
    check_size(quantities)
    for i, q in enumerate(quantities):
        if "changeFromQuantity" not in q:
            message = (
                "Variable $input of type InventorySetQuantitiesInput! was provided invalid value for "
                f"quantities.{i}.changeFromQuantity (Expected value to not be omitted)"
            )
            raise GraphQLError(message, "INVALID_VARIABLE")
    errors, changes = _check_quantities(store, spec, quantities)
    if errors:
        result = {"inventoryAdjustmentGroup": None, "userErrors": errors}
    else:
        result = _apply_quantities(store, spec, str(spec["name"]), changes)
    store.idempotency[op.idempotency_key] = result
    return result, 1


def _check_quantities(store: ShopifyStore, spec: dict[str, Any], quantities: list) -> tuple[list, list]:
    """(user errors, changes); any error refuses the whole call, as Shopify does."""
    name, errors, changes = spec.get("name"), [], []

    def refuse(field: list[Any], code: str) -> None:
        errors.append(user_error(field, STOCK_ERRORS[code], code))

    if name not in QUANTITY_NAMES:
        refuse(["input", "name"], "INVALID_NAME")
    if not spec.get("reason"):
        refuse(["input", "reason"], "INVALID_REASON")
    for i, q in enumerate(quantities):
        where = ["input", "quantities", i]
        key = (num(q.get("inventoryItemId")) or -1, num(q.get("locationId")) or -1)
        level = store.inventory.get(key)
        expected = q["changeFromQuantity"]
        if level is None:
            refuse([*where, "inventoryItemId"], "INVALID_INVENTORY_ITEM")
        elif name in QUANTITY_NAMES and expected is not None and expected != level[name]:
            refuse([*where, "changeFromQuantity"], "CHANGE_FROM_QUANTITY_STALE")
        else:
            changes.append((key, level, int(q["quantity"])))
    return errors, changes


def _apply_quantities(store: ShopifyStore, spec: dict[str, Any], name: str, changes: list) -> dict[str, Any]:
    skus = {v["inventory_item_id"]: v["sku"] for v in store.variants.values()}
    out = []
    for (item, location), level, quantity in changes:
        delta = quantity - level[name]
        for n in QUANTITY_NAMES:
            level[n] += delta
        out.append(
            {
                "name": name,
                "delta": delta,
                "quantityAfterChange": quantity,
                "item": {"id": gid("InventoryItem", item), "sku": skus.get(item)},
                "location": {"id": gid("Location", location)},
            }
        )
        store.inventory_changes.append(
            {
                "at": store.ctx.iso(),
                "sku": skus.get(item),
                "location": location,
                "name": name,
                "quantity": quantity,
                "delta": delta,
            }
        )
    group = {
        "id": gid("InventoryAdjustmentGroup", store.next_id(3_300_000_000_000)),
        "createdAt": store.ctx.iso(),
        "reason": spec.get("reason"),
        "referenceDocumentUri": spec.get("referenceDocumentUri"),
        "changes": out,
    }
    return {"inventoryAdjustmentGroup": group, "userErrors": []}


# -- products and prices ----------------------------------------------------------------------------


def _variant_out(v: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": gid("ProductVariant", v["id"]),
        "sku": v["sku"],
        "price": v["price"],
        "compareAtPrice": v["compare_at_price"],
        "inventoryItem": {"id": gid("InventoryItem", v["inventory_item_id"])},
    }


def _set_price(store: ShopifyStore, variant: dict[str, Any], spec: dict[str, Any]) -> None:
    for key, field in (("price", "price"), ("compareAtPrice", "compare_at_price")):
        if key in spec and spec[key] != variant[field]:
            store.price_changes.append(
                {
                    "at": store.ctx.iso(),
                    "sku": variant["sku"],
                    "field": field,
                    "from": variant[field],
                    "to": spec[key],
                }
            )
            variant[field] = None if spec[key] is None else str(spec[key])


def product_set(store: ShopifyStore, op: Operation) -> tuple[Any, int]:
    spec = arg(op, "input", "productSet") or {}
    variants = spec.get("variants") or []
    check_size(variants)
    ident = op.variables.get("identifier") or {}
    handle = ident.get("handle") or spec.get("handle") or str(spec.get("title", "")).lower().replace(" ", "-")
    product = store.products.get(num(ident.get("id") or spec.get("id")) or -1) or next(
        (p for p in store.products.values() if p["handle"] == handle), None
    )
    if errors := shopify_catalog.refusal(product, spec):
        return {"product": None, "productSetOperation": None, "userErrors": errors}, 1
    if product is None:
        pid = store.next_id(7_200_000_000_000)
        product = store.products[pid] = {
            "id": pid,
            "title": spec.get("title"),
            "handle": handle,
            "variant_ids": [],
        }
    product["title"] = spec.get("title", product["title"])
    shopify_catalog.set_product(product, spec, store.ctx.iso())
    for v in variants:
        sku = (v.get("inventoryItem") or {}).get("sku") or v.get("sku")
        variant = store.variant_by_sku(sku) if sku else None
        if variant is None:
            vid, item_id = store.next_id(4_500_000_000_000), store.next_id(4_950_000_000_000)
            variant = store.variants[vid] = {
                "id": vid,
                "sku": sku,
                "price": str(v.get("price", "0.00")),
                "compare_at_price": None,
                "product_id": product["id"],
                "inventory_item_id": item_id,
            }
            product["variant_ids"].append(vid)
            store.inventory[(item_id, store.cfg.location_id)] = {"available": 0, "on_hand": 0}
        _set_price(store, variant, v)
        shopify_catalog.set_variant(variant, v)
    out = {
        "id": gid("Product", product["id"]),
        "title": product["title"],
        "handle": product["handle"],
        "variants": {"nodes": [_variant_out(store.variants[i]) for i in product["variant_ids"]]},
    }
    return {"product": out, "productSetOperation": None, "userErrors": []}, 1


def product_variants_bulk_update(store: ShopifyStore, op: Operation) -> tuple[Any, int]:
    product = store.products.get(num(op.variables.get("productId")) or -1)
    variants = op.variables.get("variants") or []
    check_size(variants)
    if product is None:
        return {
            "product": None,
            "productVariants": None,
            "userErrors": [user_error(["productId"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")],
        }, 1
    errors, updated = [], []
    for i, spec in enumerate(variants):
        variant = store.variants.get(num(spec.get("id")) or -1)
        if variant is None or variant["product_id"] != product["id"]:
            errors.append(
                user_error(
                    ["variants", str(i), "id"],
                    "Product variant does not exist",
                    "PRODUCT_VARIANT_DOES_NOT_EXIST",
                )
            )
        else:
            updated.append((variant, spec))
    if errors:
        return {"product": None, "productVariants": None, "userErrors": errors}, 1
    for variant, spec in updated:
        _set_price(store, variant, spec)
    nodes = [_variant_out(v) for v, _ in updated]
    return {"product": {"id": gid("Product", product["id"])}, "productVariants": nodes, "userErrors": []}, 1


MUTATIONS: dict[str, Resolver] = {
    "fulfillmentCreate": fulfillment_create,
    "inventorySetQuantities": inventory_set_quantities,
    "productSet": product_set,
    "productVariantsBulkUpdate": product_variants_bulk_update,
}
