"""What the catalog flow needs from connectors.

An item master source (an ERP, a PIM) implements `ItemMasterSource`: `item_master(after,
limit)` answers one page of canonical item master records (`domain.catalog.ITEM_FIELDS`)
ordered by item code, and the cursor of the next page (None after the last). The cursor
is opaque to the caller; a page that ends exactly at the last item may be followed by one
empty page.

A channel's listing codec raises `AttributeValueError` when an attribute's value cannot take
the channel's shape (a weight without a unit, a barcode with letters): that listing alone
becomes an exception naming the attribute."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class ItemPage:
    records: list[dict[str, Any]] = field(default_factory=list)
    next_after: str | None = None


@runtime_checkable
class ItemMasterSource(Protocol):
    async def item_master(self, after: str | None, limit: int) -> ItemPage: ...


class AttributeValueError(ValueError):
    """A listing attribute whose value cannot take the channel's shape."""

    def __init__(self, attribute: str, detail: str) -> None:
        super().__init__(f"{attribute}: {detail}")
        self.attribute, self.detail = attribute, detail
