"""Reading what a channel shows, for reconciliation.

A channel connector that can report its listed quantities implements `InventoryReader`:
`read(refs)` answers, for each channel reference (SKU) the channel lists, a `ChannelLevel`;
references the channel does not list are absent from the answer. `max_read` is the most
references one vendor request carries; `read` takes any number and splits them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class ChannelLevel:
    """What the channel shows for one listing."""

    ref: str  # the reference asked for (SKU)
    quantity: int | None  # None: listed, but without a quantity Crossdock manages (e.g. not stocked there)
    listing_ref: str | None = None  # the channel's own id, which its publisher accepts in place of the SKU


@runtime_checkable
class InventoryReader(Protocol):
    channel: str
    max_read: int

    async def read(self, refs: list[str]) -> dict[str, ChannelLevel]: ...
