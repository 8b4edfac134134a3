"""A tenant's `catalog:` section: where the item master comes from, and how each channel
connection lists it.

    catalog:
      source: acme-erp                  # an erp-rest connection: `crossdock catalog sync` pulls it
      sync_interval_seconds: 3600       # absent: pulled only on demand (or pushed through intake)
      page_size: 500                    # items per page pulled
      channels:
        acme-amazon:                    # a shopify or amazon connection of the tenant
          product_type: HOME            # Amazon product type: a constant, or {field: attributes.amazon_type}
          sku: {field: code}            # the listing's SKU (default: the item code)
          attributes:                   # channel attribute ← item field (dotted) or constant
            brand: brand                #   a plain string names an item field
            bullet_point: {field: [bullets, description]}   # the first present field
            condition_type: {value: new_new}                # a constant
            color: null                 #   null: drop the channel's default entry
          required: [product_description, main_product_image_locator]   # beyond the channel's own
          language_tag: en_US           # Amazon: the language of text attributes
          feed_delay_seconds: 10        # Amazon: listings gathered this long go in one feed
          feed_check_seconds: 60        # Amazon: how often a submitted feed's report is asked for

Each channel kind has a default mapping (`domain.catalog.PROFILES`); entries here replace
defaults by attribute name. Stored as the tenant's `catalog` rule document.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crossdock.domain.catalog import PROFILES, ChannelMapping, Source

ConnectionId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
Path = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$", max_length=200)]
Attribute = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.]{0,99}$")]
CATALOG_KINDS = frozenset(PROFILES)  # connection kinds a catalog can be published to
SOURCE_KINDS = frozenset({"erp-rest"})  # connection kinds an item master can be pulled from


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SourceEntry(Strict):
    """`{field: path}` or `{field: [path, ...]}` (first present wins), or `{value: constant}`."""

    field: Path | list[Path] | None = None
    value: Any = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"field": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _one(self) -> SourceEntry:
        if (self.field is None) == (self.value is None):
            raise ValueError("give field or value, not both")
        if isinstance(self.field, list) and not self.field:
            raise ValueError("field lists at least one path")
        return self

    def to_domain(self) -> Source:
        if self.field is None:
            return Source.const(self.value)
        return Source(tuple(self.field) if isinstance(self.field, list) else (self.field,))


class ProductTypeEntry(SourceEntry):
    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"value": data} if isinstance(data, str) else data  # a plain string is the type itself


class ChannelCatalog(Strict):
    product_type: ProductTypeEntry | None = None
    sku: SourceEntry | None = None
    attributes: dict[Attribute, SourceEntry | None] = Field(default_factory=dict)
    required: list[Attribute] = Field(default_factory=list)
    language_tag: str = Field(default="en_US", pattern=r"^[a-z]{2}_[A-Z]{2}$")  # Amazon text attributes
    feed_delay_seconds: float = Field(default=10.0, gt=0, le=3600)
    feed_check_seconds: float = Field(default=60.0, gt=0, le=3600)

    def to_domain(self, channel: str) -> ChannelMapping:
        entries = {name: (e.to_domain() if e is not None else None) for name, e in self.attributes.items()}
        return ChannelMapping.for_channel(
            channel,
            entries,
            required=tuple(self.required),
            sku=self.sku.to_domain() if self.sku else None,
            product_type=self.product_type.to_domain() if self.product_type else None,
        )


class CatalogSection(Strict):
    source: ConnectionId | None = None
    sync_interval_seconds: float | None = Field(default=None, ge=60, le=7 * 24 * 3600)
    page_size: int = Field(default=500, ge=1, le=1000)
    channels: dict[ConnectionId, ChannelCatalog] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _interval_needs_source(self) -> CatalogSection:
        if self.sync_interval_seconds is not None and self.source is None:
            raise ValueError("sync_interval_seconds needs a source connection to pull from")
        return self


def cross_check(section: CatalogSection, connections: dict[str, str]) -> Iterator[tuple[tuple, str]]:
    """Yield (field path relative to the tenant, message); `connections` maps the tenant's
    connection ids to their kinds."""
    if section.source is not None:
        kind = connections.get(section.source)
        if kind is None:
            yield ("catalog", "source"), f"unknown connection {section.source!r}"
        elif kind not in SOURCE_KINDS:
            yield ("catalog", "source"), f"a {kind} connection cannot supply the item master"
    for cid, entry in section.channels.items():
        kind = connections.get(cid)
        if kind is None:
            yield ("catalog", "channels", cid), f"unknown connection {cid!r}"
        elif kind not in CATALOG_KINDS:
            yield (
                ("catalog", "channels", cid),
                f"a {kind} connection has no catalog; one of {sorted(CATALOG_KINDS)}",
            )
        elif kind == "shopify":
            from crossdock.connectors.shopify.catalog import accepts

            for name in entry.attributes:
                if not accepts(name):
                    where = ("catalog", "channels", cid, "attributes", name)
                    yield where, "Shopify has no such product field; use metafields.<namespace>.<key>"
