"""Amazon listings payloads for quantities. Pure functions, no I/O.

Outbound: the JSON_LISTINGS_FEED document (listings-feed-schema-v2), one `PATCH` message
per seller SKU replacing `/attributes/fulfillment_availability` with
`[{fulfillment_channel_code: DEFAULT, quantity}]` (seller-fulfilled stock), and the
`patchListingsItem` body (Listings Items API 2021-08-01) with the same patch.
Inbound: the feed processing report (listings-feed-processing-report-schema-v2): its
ERROR issues, by `messageId`, become per-item failures; WARNING and INFO issues do not
refuse a message. And the `ListingsItemSubmissionResponse` of patchListingsItem.
"""

from __future__ import annotations

from typing import Any

from crossdock.connectors.codec_errors import Field
from crossdock.connectors.inventory_publishing import ItemFailure, PendingFeed, PublishResult, StockUpdate

CHANNEL = "amazon"
FEED_TYPE = "JSON_LISTINGS_FEED"
FEED_CONTENT_TYPE = "application/json; charset=UTF-8"
MAX_MESSAGES = 25_000  # per feed (listings-feed-schema-v2 `messages.maxItems`)
# Amazon's product type for offer-only attributes: a listing's quantity can be patched
# without knowing its real product type.
DEFAULT_PRODUCT_TYPE = "PRODUCT"
AVAILABILITY_PATH = "/attributes/fulfillment_availability"
_REJECTED_HINT = (
    "Read Amazon's issue for this SKU in Seller Central (or the processing report in lineage); "
    "fix the listing or the SKU mapping, then publish again."
)


def availability_patch(quantity: int) -> dict[str, Any]:
    """The JSON Patch that sets a seller-fulfilled listing's quantity."""
    if quantity < 0:
        raise ValueError(f"quantity must not be negative, got {quantity}")
    return {
        "op": "replace",
        "path": AVAILABILITY_PATH,
        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": int(quantity)}],
    }


def encode_listings_feed(
    updates: list[StockUpdate],
    seller_id: str,
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
                "patches": [availability_patch(update.quantity)],
            }
            for number, update in enumerate(updates, start=1)
        ],
    }


def feed_quantities(feed: dict[str, Any]) -> dict[str, int]:
    """SKU → quantity set by a listings feed's availability patches (the inverse, for checks)."""
    found: dict[str, int] = {}
    for message in Field(feed, "", CHANNEL).required()["messages"].items():
        for patch in message["patches"].items():
            if patch["path"].opt_text() == AVAILABILITY_PATH:
                for entry in patch["value"].items():
                    if entry["fulfillment_channel_code"].opt_text() == "DEFAULT":
                        found[message["sku"].text()] = int(entry["quantity"].count())
    return found


def encode_patch_listings_item(quantity: int, product_type: str = DEFAULT_PRODUCT_TYPE) -> dict[str, Any]:
    """`ListingsItemPatchRequest` body of patchListingsItem."""
    return {"productType": product_type, "patches": [availability_patch(quantity)]}


def describe_issues(issues: list[Field]) -> str:
    """Amazon's issues as one line: code, message and the attribute(s) concerned."""
    parts = []
    for issue in issues:
        code, message = issue["code"].opt_ident() or "?", issue["message"].opt_text() or ""
        attribute = issue["attributeName"].opt_text() or ", ".join(
            a.opt_text() or "" for a in issue["attributeNames"].items()
        )
        parts.append(f"{code} {message}" + (f" [{attribute}]" if attribute else ""))
    return "; ".join(parts)


def report_errors(report: Any) -> dict[int, list[Field]]:
    """messageId → the ERROR issues of that message, from a processing report."""
    errors: dict[int, list[Field]] = {}
    for issue in Field(report, "", CHANNEL).required()["issues"].items():
        if (issue["severity"].opt_text() or "ERROR").upper() != "ERROR":
            continue
        if issue["messageId"].present:
            errors.setdefault(int(issue["messageId"].count()), []).append(issue)
    return errors


def decode_processing_report(
    report: Any, pending: PendingFeed, what: str = "quantity", hint: str = _REJECTED_HINT
) -> PublishResult:
    """Per-update outcome of a processed feed of `what` (quantity, price): the keys of
    messages with ERROR issues fail, with `hint`."""
    errors = report_errors(report)
    accepted, failed = [], {}
    for number, key in enumerate(pending.keys, start=1):
        issues = errors.get(number)
        if not issues:
            accepted.append(key)
            continue
        sku = issues[0]["sku"].opt_text() or (pending.skus[number - 1] if pending.skus else "?")
        failed[key] = ItemFailure(
            "remote.listing_rejected",
            f"Amazon refused the {what} of SKU {sku} (feed {pending.feed_id}, message {number}): "
            + describe_issues(issues),
            hint,
        )
    return PublishResult(accepted, failed)


def report_summary(report: Any) -> dict[str, int]:
    summary = Field(report, "", CHANNEL).required()["summary"]
    names = ("errors", "warnings", "messagesProcessed", "messagesAccepted", "messagesInvalid")
    return {name: int(summary[name].count()) for name in names if summary[name].present}


def decode_submission(response: Any, update: StockUpdate) -> ItemFailure | None:
    """None when patchListingsItem accepted the patch; else why it did not."""
    answer = Field(response, "", CHANNEL).required()
    status = answer["status"].text()
    if status in ("ACCEPTED", "VALID"):
        return None
    errors = [i for i in answer["issues"].items() if (i["severity"].opt_text() or "ERROR") == "ERROR"]
    return ItemFailure(
        "remote.listing_rejected",
        f"Amazon refused the quantity of SKU {update.channel_ref} ({status}, submission "
        f"{answer['submissionId'].opt_text()}): {describe_issues(errors) or 'no issue given'}",
        _REJECTED_HINT,
    )
