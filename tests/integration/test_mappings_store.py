"""Mappings and rules as tenant data: applied from the file, edited one entry at a time
(audited), read back as the domain's rules — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError
from sqlalchemy import func, select

from crossdock.configuration import ConfigErrors, SecretBox, load_text
from crossdock.connectors.shopify.codec import decode_order
from crossdock.domain.errors import DomainError
from crossdock.domain.mapping import CarrierService
from crossdock.domain.routing import lines_of, route
from crossdock.domain.validation import validate_order
from crossdock.store import audit
from crossdock.store.configuration import Status, apply_config
from crossdock.store.db import make_engine
from crossdock.store.mappings import delete_entry, load_rules, put_rule, rules_from_config, upsert_entry
from crossdock.store.tables import audit_log, config_versions, mappings, tenant_rules
from tests.vendor_fixtures import load_vendor_json

EXAMPLE_TEXT = (Path(__file__).resolve().parents[2] / "examples" / "crossdock.yaml").read_text()
GLOBEX = EXAMPLE_TEXT.index("  - id: globex")


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def box():
    return SecretBox([Fernet.generate_key().decode()])


def apply(engine, box, text=EXAMPLE_TEXT, actor="ops@test"):
    return apply_config(engine, load_text(text, "crossdock.yaml"), "crossdock.yaml", text, actor, box)


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def acme_file_rules(text=EXAMPLE_TEXT):
    return rules_from_config(load_text(text).tenants[0])


def section_status(report) -> dict[str, Status]:
    return {
        c.object if c.object != "rules" else c.id: c.status for c in report.changes if c.tenant_id == "acme"
    }


# -- apply ------------------------------------------------------------------------------------------


def test_applied_sections_load_back_equal_to_the_file(engine, box):
    report = apply(engine, box)
    status = section_status(report)
    assert status["mappings.sku"] == Status.CREATED and status["routing"] == Status.CREATED
    assert count(engine, mappings) == 8 + 2 + 3 + 3 + 2 and count(engine, tenant_rules) == 5
    assert load_rules(engine, "acme") == acme_file_rules()
    untouched = load_rules(engine, "globex")
    assert untouched.routing is None and untouched.mappings.skus == ()


def test_applying_the_same_file_again_writes_nothing(engine, box):
    apply(engine, box)
    again = apply(engine, box, actor="someone-else")
    assert not again.changed and set(section_status(again).values()) == {Status.UNCHANGED}
    assert count(engine, config_versions) == 1 and count(engine, audit_log) == 1
    with engine.connect() as conn:
        assert set(conn.execute(select(mappings.c.updated_by)).scalars()) == {"ops@test"}


def test_a_changed_entry_in_the_file_rewrites_only_that_entry(engine, box):
    apply(engine, box)
    text = EXAMPLE_TEXT.replace("item: ACC-CASE-LTHR}", "item: ACC-CASE-LEATHER}")
    report = apply(engine, box, text, actor="editor")
    status = section_status(report)
    assert status["mappings.sku"] == Status.UPDATED and status["mappings.tax_codes"] == Status.UNCHANGED
    with engine.connect() as conn:
        edited = conn.execute(select(mappings.c.key).where(mappings.c.updated_by == "editor")).scalars().all()
    assert edited == ['["shopify","CASE-LEATHER-PREM",""]']
    assert load_rules(engine, "acme") == acme_file_rules(text)


def test_entries_dropped_from_the_file_are_deleted(engine, box):
    apply(engine, box)
    text = EXAMPLE_TEXT.replace(
        "        - {channel: shopify, method: Express, carrier: FEDEX, service: 2DAY}\n", ""
    )
    assert section_status(apply(engine, box, text))["mappings.shipping_methods"] == Status.UPDATED
    assert len(load_rules(engine, "acme").mappings.shipping_methods) == 2


def test_a_section_left_out_of_the_file_keeps_what_is_stored(engine, box):
    apply(engine, box)
    start, end = EXAMPLE_TEXT.index("    routing:\n"), EXAMPLE_TEXT.index("    validation:\n")
    report = apply(engine, box, EXAMPLE_TEXT[:start] + EXAMPLE_TEXT[end:])
    assert "routing" not in section_status(report)
    assert load_rules(engine, "acme").routing == acme_file_rules().routing


# -- the stored rules drive the order flow ------------------------------------------------------------


def test_loaded_rules_map_validate_and_route_the_shopify_sample_order(engine, box):
    apply(engine, box)
    rules = load_rules(engine, "acme")
    sample = load_vendor_json("shopify", "orders-create.2026-04.json")["response"]
    # Shopify's sample is a cancelled order, every unit cancelled: nothing would be asked of
    # the ERP. The rules are checked on it as an open order.
    order = decode_order({**sample, "cancelled_at": None, "cancel_reason": None})
    mapped = rules.mappings.map_order(order)
    assert [line.item_code for line in mapped.lines][:2] == ["CAM-2006-BODY", "SVC-PROTECT-2Y"]
    assert (mapped.customer.code, mapped.customer.matched_by) == ("C-10077", "external_id")
    assert mapped.carrier_service == CarrierService("UPS", "GROUND") and mapped.legal_entity == "ACME-US"
    v = rules.validation
    assert (
        validate_order(
            mapped, known_currencies=v.known_currencies, price_tolerance_percent=v.price_tolerance_percent
        )
        == []
    )
    stock = {("DAL", line.item_code): Decimal(5) for line in mapped.lines}
    plan = route(lines_of(mapped), order.ship_to, rules.routing, stock)
    assert [r.warehouse for r in plan.releases] == ["DAL"] and plan.is_complete


# -- single-entry edits (the API) ------------------------------------------------------------------


def test_a_single_entry_edit_is_audited_with_its_value_before_and_after(engine, box):
    apply(engine, box)
    value = {"channel": "shopify", "sku": "CASE-LEATHER-PREM", "item": "ACC-CASE-LEATHER"}
    key = upsert_entry(engine, "acme", "sku", value, actor="ann@acme")
    assert key == '["shopify","CASE-LEATHER-PREM",""]'
    assert (
        load_rules(engine, "acme").mappings.find_item("shopify", "CASE-LEATHER-PREM").item_code
        == "ACC-CASE-LEATHER"
    )
    with engine.connect() as conn:
        entry = conn.execute(select(audit_log).order_by(audit_log.c.id.desc())).mappings().first()
    assert (entry["actor"], entry["action"], entry["tenant_id"]) == ("ann@acme", "mapping.upsert", "acme")
    assert entry["target"] == f"sku:{key}"
    details = json.loads(entry["details"])
    assert details["before"]["item"] == "ACC-CASE-LTHR" and details["after"]["item"] == "ACC-CASE-LEATHER"
    assert audit.verify(engine).ok


def test_saving_an_unchanged_entry_writes_no_audit_entry(engine, box):
    apply(engine, box)
    before = count(engine, audit_log)
    upsert_entry(
        engine,
        "acme",
        "shipping_methods",
        {"channel": "amazon", "method": "*", "carrier": "UPS", "service": "SUREPOST"},
        "ann",
    )
    assert count(engine, audit_log) == before


def test_deleting_an_entry_is_audited_and_a_missing_one_is_reported(engine, box):
    apply(engine, box)
    key = '["amazon","","B08N5WRWNW"]'
    assert delete_entry(engine, "acme", "sku", key, "ann") is True
    assert load_rules(engine, "acme").mappings.find_item("amazon", None, "B08N5WRWNW") is None
    assert delete_entry(engine, "acme", "sku", key, "ann") is False
    with engine.connect() as conn:
        actions = conn.execute(select(audit_log.c.action).order_by(audit_log.c.id)).scalars().all()
    assert actions == ["config.apply", "mapping.delete"]


def test_an_entry_that_clashes_with_another_is_refused_and_nothing_is_written(engine, box):
    apply(engine, box)
    clash = {"channel": "shopify", "sku": "SKU2006-001", "product_ref": "123", "item": "OTHER"}
    with pytest.raises(DomainError, match="two SKU rules"):
        upsert_entry(engine, "acme", "sku", clash, "ann")
    assert load_rules(engine, "acme") == acme_file_rules() and count(engine, audit_log) == 1


def test_a_malformed_entry_an_unknown_section_or_tenant_is_refused(engine, box):
    apply(engine, box)
    with pytest.raises(ValidationError, match="pack|greater than 0"):
        upsert_entry(engine, "acme", "uom", {"from": "CASE", "to": "EA", "factor": 0}, "ann")
    with pytest.raises(LookupError, match="unknown section"):
        upsert_entry(engine, "acme", "skus", {}, "ann")
    with pytest.raises(LookupError, match="no tenant"):
        upsert_entry(engine, "nobody", "sku", {"channel": "shopify", "sku": "a", "item": "b"}, "ann")


def test_rule_documents_are_replaced_whole_validated_and_audited(engine, box):
    apply(engine, box)
    routing = {"policy": "ship_complete", "warehouses": [{"code": "DAL", "countries": ["US"]}]}
    put_rule(engine, "acme", "routing", routing, "ann")
    assert load_rules(engine, "acme").routing.policy == "ship_complete"
    with pytest.raises(ValueError, match="unknown warehouse 'PHX'"):
        put_rule(engine, "acme", "routing", routing | {"priorities": {"US": ["PHX"]}}, "ann")
    with engine.connect() as conn:
        assert (
            conn.execute(select(audit_log.c.action).order_by(audit_log.c.id.desc())).first()[0] == "rules.put"
        )


# -- the file's checks across entries ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            (
                "{channel: shopify, sku: SKU2006-020, item: CAM-2006-LENS50}",
                "{channel: shopify, sku: SKU2006-001, item: X}",
            ),
            "crossdock.yaml:33: tenants[0].mappings.sku[1].sku: duplicate sku: one cross-reference per channel sku",
        ),
        (
            ("factor: 24}", "factor: 0}"),
            "crossdock.yaml:44: tenants[0].mappings.uom.conversions[1].factor: Input should be greater than 0",
        ),
        (
            ("CA: [TOR-3PL]", "CA: [TOR-3PL, PHX]"),
            "crossdock.yaml:75: tenants[0].routing.priorities.CA[1]: unknown warehouse 'PHX'",
        ),
        (
            ("currencies: [USD, CAD]", "currencies: [USD, XYZ]"),
            "crossdock.yaml:78: tenants[0].validation.currencies[1]: XYZ is not an ISO 4217 code Crossdock knows",
        ),
        (
            ("amazon: {policy: default_account, account: C-AMAZON}", "amazon: {policy: default_account}"),
            "crossdock.yaml:59: tenants[0].mappings.customers.unmatched.amazon: Value error, account is required",
        ),
    ],
)
def test_file_problems_name_their_line_and_field(change, expected):
    old, new = change
    assert old in EXAMPLE_TEXT
    with pytest.raises(ConfigErrors) as caught:
        load_text(EXAMPLE_TEXT.replace(old, new), "crossdock.yaml")
    assert any(str(e).startswith(expected) for e in caught.value.errors), caught.value.errors
