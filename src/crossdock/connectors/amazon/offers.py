"""Amazon listings payloads for prices. Pure functions, no I/O.

The price is the `purchasable_offer` attribute's `our_price` (listings-feed-schema-v2 and
the product type definitions): a `PATCH` replacing `/attributes/purchasable_offer` with
one offer per marketplace, `[{marketplace_id, currency, our_price: [{schedule:
[{value_with_tax}]}]}]`. The same patch goes in a JSON_LISTINGS_FEED message (many SKUs,
answered later by the processing report) or a `patchListingsItem` body (one SKU, at once).
The processing report's ERROR issues, by `messageId`, become per-item failures.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crossdock.connectors.amazon.listings import (
    DEFAULT_PRODUCT_TYPE,
    MAX_MESSAGES,
    decode_processing_report,
    describe_issues,
)
from crossdock.connectors.codec_errors import Field
from crossdock.connectors.inventory_publishing import ItemFailure, PendingFeed, PublishResult
from crossdock.connectors.price_publishing import PriceUpdate

CHANNEL = "amazon"
OFFER_PATH = "/attributes/purchasable_offer"
_REJECTED_HINT = (
    "Read Amazon's issue for this SKU (the processing report is in lineage); fix the listing or "
    "the SKU mapping, then retry this exception to publish the item's current price."
)


def offer_patch(price: Decimal, currency: str, marketplace_ids: list[str]) -> dict[str, Any]:
    """The JSON Patch that sets a listing's price in every marketplace of the connection."""
    if price < 0:
        raise ValueError(f"a price is not negative, got {price}")
    if not marketplace_ids:
        raise ValueError("at least one marketplace id")
    value = [
        {
            "marketplace_id": marketplace,
            "currency": currency,
            "our_price": [{"schedule": [{"value_with_tax": float(price)}]}],
        }
        for marketplace in marketplace_ids
    ]
    return {"op": "replace", "path": OFFER_PATH, "value": value}


def encode_price_feed(
    updates: list[PriceUpdate],
    seller_id: str,
    marketplace_ids: list[str],
    *,
    product_type: str = DEFAULT_PRODUCT_TYPE,
    issue_locale: str = "en_US",
) -> dict[str, Any]:
    """A JSON_LISTINGS_FEED document: message i+1 carries updates[i]."""
    if not updates or len(updates) > MAX_MESSAGES:
        raise ValueError(f"a listings feed holds 1 to {MAX_MESSAGES} messages, not {len(updates)}")
    return {
        "header": {"sellerId": seller_id, "version": "2.0", "issueLocale": issue_locale},
        "messages": [
            {
                "messageId": number,
                "sku": update.channel_ref,
                "operationType": "PATCH",
                "productType": product_type,
                "patches": [offer_patch(update.price, update.currency, marketplace_ids)],
            }
            for number, update in enumerate(updates, start=1)
        ],
    }


def encode_patch_price(update: PriceUpdate, marketplace_ids: list[str], product_type: str) -> dict[str, Any]:
    """`ListingsItemPatchRequest` body of patchListingsItem."""
    return {
        "productType": product_type,
        "patches": [offer_patch(update.price, update.currency, marketplace_ids)],
    }


def feed_prices(feed: dict[str, Any]) -> dict[str, tuple[Decimal, str]]:
    """SKU → (price, currency) set by a listings feed's offer patches (the inverse, for checks)."""
    found: dict[str, tuple[Decimal, str]] = {}
    for message in Field(feed, "", CHANNEL).required()["messages"].items():
        for patch in message["patches"].items():
            if patch["path"].opt_text() != OFFER_PATH:
                continue
            for offer in patch["value"].items():
                for price in offer["our_price"].items():
                    for slot in price["schedule"].items():
                        amount = slot["value_with_tax"].decimal()
                        found[message["sku"].text()] = (amount, offer["currency"].text())
    return found




def decode_price_report(report: Any, pending: PendingFeed) -> PublishResult:
    """Per-update outcome of a processed price feed: the keys of messages with ERROR issues fail."""
    return decode_processing_report(report, pending, "price", _REJECTED_HINT)


def decode_price_submission(response: Any, update: PriceUpdate) -> ItemFailure | None:
    """None when patchListingsItem accepted the price; else why it did not."""
    answer = Field(response, "", CHANNEL).required()
    status = answer["status"].text()
    if status in ("ACCEPTED", "VALID"):
        return None
    errors = [i for i in answer["issues"].items() if (i["severity"].opt_text() or "ERROR") == "ERROR"]
    return ItemFailure(
        "remote.listing_rejected",
        f"Amazon refused the price of SKU {update.channel_ref} ({status}, submission "
        f"{answer['submissionId'].opt_text()}): {describe_issues(errors) or 'no issue given'}",
        _REJECTED_HINT,
    )
