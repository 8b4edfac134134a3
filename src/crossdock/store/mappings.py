"""A tenant's mappings and rules in the database: written by `crossdock apply`, edited one
entry at a time (the API), read back as the domain's `TenantMappings`, `RoutingRules`
and `ValidationRules`.

Cross-references live in `mappings`, one row per entry (sections in `SECTIONS`); rule
documents in `tenant_rules` (names in `RULES`). Values are stored as the configuration
file writes them, so one set of models validates the file, an API edit and a stored row.
Every single-entry change is validated against the tenant's whole mapping set before it
commits, and recorded in the audit log with its value before and after.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, delete, select

from crossdock.configuration.availability import AvailabilitySection
from crossdock.configuration.catalog import CatalogSection
from crossdock.configuration.pricing import PricingSection
from crossdock.configuration.schema import Tenant
from crossdock.configuration.tenant_rules import (
    CustomerEntry,
    CustomersSection,
    LegalEntitiesSection,
    RoutingSection,
    ShippingMethodEntry,
    SkuEntry,
    TaxCodeEntry,
    UnitConversionEntry,
    UnitsSection,
    ValidationSection,
    cross_check,
)
from crossdock.domain.mapping import TenantMappings
from crossdock.domain.mapping_rules import fold
from crossdock.domain.routing import RoutingRules
from crossdock.domain.validation import ValidationRules
from crossdock.store import audit
from crossdock.store.tables import mappings, tenant_rules, tenants

SECTIONS: dict[str, type[BaseModel]] = {
    "sku": SkuEntry,
    "uom": UnitConversionEntry,
    "tax_codes": TaxCodeEntry,
    "shipping_methods": ShippingMethodEntry,
    "customers": CustomerEntry,
}
RULES: dict[str, type[BaseModel]] = {
    "units": UnitsSection,  # erp_uom, item_erp_uoms (conversions are `uom` entries)
    "customer_policies": CustomersSection,  # unmatched (the match rules are `customers` entries)
    "legal_entities": LegalEntitiesSection,
    "routing": RoutingSection,
    "validation": ValidationSection,
    "availability": AvailabilitySection,  # also read by store.inventory
    "catalog": CatalogSection,  # read by store.catalog, not by build_rules
    "pricing": PricingSection,  # read by store.pricing, not by build_rules
}
M = TypeVar("M", bound=BaseModel)
_ENTRY_PARTS = {"units": "conversions", "customer_policies": "match"}  # kept as entries, not in the document


@dataclass(frozen=True)
class TenantRules:
    """Everything the order flow needs to map, validate and route a tenant's orders."""

    mappings: TenantMappings
    routing: RoutingRules | None  # None: the tenant has not configured routing
    validation: ValidationRules
    availability: AvailabilitySection | None = None  # reservations (None: the tenant keeps none)


@dataclass(frozen=True)
class SectionChange:
    object: str  # mappings.<section> | rules
    id: str
    status: str  # created | updated | unchanged


# -- keys and values -------------------------------------------------------------------------


def entry_key(section: str, entry: Any) -> str:
    """The row key of an entry: what makes it unique within its section."""
    if section == "sku":
        parts = [entry.channel, entry.sku or "", entry.product_ref or ""]
    elif section == "uom":
        parts = [entry.item or "*", entry.from_uom.upper(), entry.to_uom.upper()]
    elif section == "tax_codes":
        rate = format(entry.rate.normalize(), "f") if entry.rate is not None else ""
        parts = [entry.channel, fold(entry.title), rate]
    elif section == "shipping_methods":
        parts = [entry.channel, fold(entry.method)]
    else:
        parts = [entry.channel, entry.match_by.value, fold(entry.email or entry.external_id)]
    return _json(parts)


def _dump(model: BaseModel, exclude: set[str] | None = None) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True, exclude=exclude)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def file_state(tenant: Tenant) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """What the file says, for the sections it has: (section → key → value, name → value)."""
    m, entries, docs = tenant.mappings, {}, {}
    lists = {
        "sku": m.sku if m else None,
        "uom": m.uom.conversions if m and m.uom else None,
        "tax_codes": m.tax_codes if m else None,
        "shipping_methods": m.shipping_methods if m else None,
        "customers": m.customers.match if m and m.customers else None,
    }
    for section, items in lists.items():
        if items is not None:
            entries[section] = {entry_key(section, e): _json(_dump(e)) for e in items}
    sections = {
        "units": m.uom if m else None,
        "customer_policies": m.customers if m else None,
        "legal_entities": m.legal_entities if m else None,
        "routing": tenant.routing,
        "validation": tenant.validation,
        "availability": tenant.availability,
        "catalog": tenant.catalog,
        "pricing": tenant.pricing,
    }
    for name, model in sections.items():
        if model is not None:
            docs[name] = _json(_dump(model, {_ENTRY_PARTS[name]} if name in _ENTRY_PARTS else None))
    return entries, docs


# -- building the domain's rules -------------------------------------------------------------------


def build_rules(entries: dict[str, list[str]], docs: dict[str, str]) -> TenantRules:
    """The domain's rules from stored values (JSON text per entry and per document)."""

    def domain(section: str) -> tuple:
        return tuple(SECTIONS[section].model_validate_json(v).to_domain() for v in entries.get(section, []))  # type: ignore[attr-defined]

    def doc(name: str, model: type[M]) -> M | None:
        return model.model_validate_json(docs[name]) if name in docs else None

    units = doc("units", UnitsSection) or UnitsSection()
    customers = doc("customer_policies", CustomersSection) or CustomersSection()
    legal, routing, validation = (
        doc("legal_entities", LegalEntitiesSection),
        doc("routing", RoutingSection),
        doc("validation", ValidationSection),
    )
    tenant_mappings = TenantMappings(
        skus=domain("sku"),
        conversions=domain("uom"),
        erp_uom=units.erp_uom,
        item_uoms=units.item_erp_uoms,
        tax_codes=domain("tax_codes"),
        shipping_methods=domain("shipping_methods"),
        customers=domain("customers"),
        customer_policies={ch: p.to_domain() for ch, p in customers.unmatched.items()},
        legal_entities=tuple(r.to_domain() for r in legal.rules) if legal else (),
        default_legal_entity=legal.default if legal else None,
    )
    return TenantRules(
        tenant_mappings,
        routing.to_domain() if routing else None,
        validation.to_domain() if validation else ValidationRules(),
        doc("availability", AvailabilitySection),
    )


def rules_from_config(tenant: Tenant) -> TenantRules:
    """The rules a tenant's file section describes, without a database."""
    entries, docs = file_state(tenant)
    return build_rules({s: list(v.values()) for s, v in entries.items()}, docs)


def read_rules(conn: Connection, tenant_id: str) -> TenantRules:
    """A tenant's rules inside the caller's transaction."""
    entries: dict[str, list[str]] = defaultdict(list)
    where = mappings.c.tenant_id == tenant_id
    order = (mappings.c.section, mappings.c.key)
    for section, value in conn.execute(
        select(mappings.c.section, mappings.c.value).where(where).order_by(*order)
    ):
        entries[section].append(value)
    where_rules = tenant_rules.c.tenant_id == tenant_id
    docs = dict(conn.execute(select(tenant_rules.c.name, tenant_rules.c.value).where(where_rules)).all())
    return build_rules(entries, docs)


def load_rules(engine: Engine, tenant_id: str) -> TenantRules:
    with engine.connect().execution_options(readonly=True) as conn, conn.begin():
        return read_rules(conn, tenant_id)


# -- apply: the file's sections replace the stored ones ----------------------------------------


def apply_sections(conn: Connection, tenant: Tenant, actor: str, now: float) -> list[SectionChange]:
    """Make the stored sections equal to the file's, for the sections the file has."""
    entries, docs = file_state(tenant)
    changes = [_sync_section(conn, tenant.id, s, wanted, actor, now) for s, wanted in entries.items()]
    changes += [_sync_doc(conn, tenant.id, name, value, actor, now) for name, value in docs.items()]
    return changes


def _sync_section(conn, tenant_id: str, section: str, wanted: dict[str, str], actor: str, now: float):
    where = (mappings.c.tenant_id == tenant_id) & (mappings.c.section == section)
    stored = dict(conn.execute(select(mappings.c.key, mappings.c.value).where(where)).all())
    status = "unchanged" if stored == wanted else ("updated" if stored else "created")
    stale = [k for k in stored if stored[k] != wanted.get(k)]
    if stale:
        conn.execute(delete(mappings).where(where & mappings.c.key.in_(stale)))
    rows = [
        dict(tenant_id=tenant_id, section=section, key=k, value=v, updated_at=now, updated_by=actor)
        for k, v in sorted(wanted.items())
        if stored.get(k) != v
    ]
    if rows:
        conn.execute(mappings.insert(), rows)
    return SectionChange(f"mappings.{section}", f"{len(wanted)} entries", status)


def _sync_doc(conn, tenant_id: str, name: str, value: str, actor: str, now: float) -> SectionChange:
    key = (tenant_rules.c.tenant_id == tenant_id) & (tenant_rules.c.name == name)
    stored = conn.execute(select(tenant_rules.c.value).where(key)).scalar()
    status = "unchanged" if stored == value else ("updated" if stored is not None else "created")
    if status != "unchanged":
        conn.execute(delete(tenant_rules).where(key))
        row = dict(tenant_id=tenant_id, name=name, value=value, updated_at=now, updated_by=actor)
        conn.execute(tenant_rules.insert().values(**row))
    return SectionChange("rules", name, status)


def list_entries(conn: Connection, tenant_id: str, section: str) -> list[dict[str, Any]] | None:
    """One section's entries, by key: `{key, value, updated_at, updated_by}`; None for an
    unknown tenant. LookupError for an unknown section."""
    _model(SECTIONS, section)
    if conn.execute(select(tenants.c.id).where(tenants.c.id == tenant_id)).scalar() is None:
        return None
    cols = (mappings.c.key, mappings.c.value, mappings.c.updated_at, mappings.c.updated_by)
    where = (mappings.c.tenant_id == tenant_id) & (mappings.c.section == section)
    rows = conn.execute(select(*cols).where(where).order_by(mappings.c.key))
    return [
        {"key": r.key, "value": json.loads(r.value), "updated_at": r.updated_at, "updated_by": r.updated_by}
        for r in rows
    ]


# The rule documents the order flow reads at every step (`read_rules`), editable over the API
# like mapping entries. The others (availability, catalog, pricing) start recomputations when
# they change, which `crossdock apply` does; they are changed there.
ORDER_RULES = ("units", "customer_policies", "legal_entities", "routing", "validation")


def get_rule(conn: Connection, tenant_id: str, name: str) -> dict[str, Any] | None:
    """One rule document `{name, value, updated_at, updated_by}` (value None: never set);
    None for an unknown tenant. LookupError for an unknown rule name."""
    _model(RULES, name)
    if conn.execute(select(tenants.c.id).where(tenants.c.id == tenant_id)).scalar() is None:
        return None
    t = tenant_rules.c
    row = conn.execute(
        select(t.value, t.updated_at, t.updated_by).where(t.tenant_id == tenant_id, t.name == name)
    ).first()
    if row is None:
        return {"name": name, "value": None, "updated_at": None, "updated_by": None}
    return {"name": name, "value": json.loads(row.value), "updated_at": row.updated_at, "updated_by": row.updated_by}


# -- single-entry edits (the API), each audited ------------------------------------------------------


def upsert_entry(engine: Engine, tenant_id: str, section: str, value: dict[str, Any], actor: str) -> str:
    """Add or replace one entry; returns its key. Raises pydantic's ValidationError for a
    malformed value, DomainError when it clashes with another entry, LookupError for an
    unknown tenant or section."""
    entry = _model(SECTIONS, section).model_validate(value)
    key, text = entry_key(section, entry), _json(_dump(entry))
    row_key = (mappings.c.tenant_id == tenant_id) & (mappings.c.section == section) & (mappings.c.key == key)
    with engine.begin() as conn:
        _require_tenant(conn, tenant_id)
        before = conn.execute(select(mappings.c.value).where(row_key)).scalar()
        if before == text:
            return key
        conn.execute(delete(mappings).where(row_key))
        row = dict(tenant_id=tenant_id, section=section, key=key, value=text)
        conn.execute(mappings.insert().values(**row, updated_at=time.time(), updated_by=actor))
        read_rules(conn, tenant_id)  # the whole set must still hold together
        _audit(conn, actor, "mapping.upsert", tenant_id, f"{section}:{key}", before, text)
    return key


def delete_entry(engine: Engine, tenant_id: str, section: str, key: str, actor: str) -> bool:
    """Remove one entry by its key; False when there was none."""
    _model(SECTIONS, section)
    row_key = (mappings.c.tenant_id == tenant_id) & (mappings.c.section == section) & (mappings.c.key == key)
    with engine.begin() as conn:
        before = conn.execute(select(mappings.c.value).where(row_key)).scalar()
        if before is None:
            return False
        conn.execute(delete(mappings).where(row_key))
        _audit(conn, actor, "mapping.delete", tenant_id, f"{section}:{key}", before, None)
    return True


def put_rule(engine: Engine, tenant_id: str, name: str, value: dict[str, Any], actor: str) -> None:
    """Replace one rule document (routing, validation, legal_entities, ...)."""
    text = _checked_rule(name, value)
    key = (tenant_rules.c.tenant_id == tenant_id) & (tenant_rules.c.name == name)
    with engine.begin() as conn:
        _require_tenant(conn, tenant_id)
        before = conn.execute(select(tenant_rules.c.value).where(key)).scalar()
        if before == text:
            return
        _sync_doc(conn, tenant_id, name, text, actor, time.time())
        read_rules(conn, tenant_id)
        _audit(conn, actor, "rules.put", tenant_id, name, before, text)


def _checked_rule(name: str, value: dict[str, Any]) -> str:
    """The document as stored, once valid; ValueError naming each problem otherwise."""
    model = _model(RULES, name).model_validate(value)
    part = _ENTRY_PARTS.get(name)
    if part and getattr(model, part):
        raise ValueError(f"{part} are single entries of their section, not part of the {name} rules")
    problems = list(cross_check(**{name: model})) if name in ("routing", "validation") else []
    if problems:
        raise ValueError("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))
    return _json(_dump(model, {part} if part else None))


def _model(table: dict[str, type[BaseModel]], name: str) -> type[BaseModel]:
    if name not in table:
        raise LookupError(f"unknown section {name!r}; one of {', '.join(table)}")
    return table[name]


def _require_tenant(conn: Connection, tenant_id: str) -> None:
    if conn.execute(select(tenants.c.id).where(tenants.c.id == tenant_id)).scalar() is None:
        raise LookupError(f"no tenant {tenant_id!r}")


def _audit(conn, actor: str, action: str, tenant_id: str, target: str, before, after) -> None:
    details = {
        "before": json.loads(before) if before else None,
        "after": json.loads(after) if after else None,
    }
    audit.append(conn, actor, action, tenant_id=tenant_id, target=target, details=details)
