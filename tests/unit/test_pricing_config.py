"""The tenant `pricing:` section: validated with the file, turned into channel price rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crossdock.configuration import ConfigErrors, load_text
from crossdock.configuration.pricing import PriceEntryInput
from crossdock.domain.pricing import Direction

FILE = """
version: 1
tenants:
  - id: acme
    name: ACME
    connections:
      - {{id: acme-shop, kind: http, config: {{url: "http://127.0.0.1:9/shop"}}}}
      - {{id: acme-erp, kind: http, config: {{url: "http://127.0.0.1:9/erp"}}}}
    pricing:
      base_currency: USD
      source: {{connection: {source}}}
      exchange_rates: {{EUR: "0.92"}}
      channels:
        {channel}:
          {settings}
"""
GOOD = 'currency: EUR\n          markup_percent: 20\n          rounding: {ending: "0.99", direction: nearest}\n          map: {SKU-1: "24.99"}\n          min_margin_percent: 15\n          approval_threshold_percent: 25'


def test_a_channel_section_becomes_its_rule():
    doc = load_text(FILE.format(source="acme-erp", channel="acme-shop", settings=GOOD))
    section = doc.tenants[0].pricing
    (rule,) = section.to_domain()
    assert (rule.connection_id, rule.currency, rule.base_currency, rule.exchange_rate) == (
        "acme-shop",
        "EUR",
        "USD",
        Decimal("0.92"),
    )
    assert (rule.markup_percent, rule.rounding.ending, rule.rounding.direction) == (
        20,
        Decimal("0.99"),
        Direction.NEAREST,
    )
    assert dict(rule.map_prices) == {"SKU-1": Decimal("24.99")}
    assert (rule.min_margin_percent, rule.approval_threshold_percent) == (15, 25)
    assert section.source.poll_seconds == 300


@pytest.mark.parametrize(
    ("source", "channel", "settings", "problem"),
    [
        ("acme-erp", "acme-web", "currency: USD", "unknown connection 'acme-web'"),
        ("acme-nope", "acme-shop", "currency: USD", "unknown connection 'acme-nope'"),
        ("acme-erp", "acme-shop", "currency: GBP", "no exchange rate from USD to GBP"),
        ("acme-erp", "acme-shop", "currency: XXX", "not an ISO 4217 code"),
        (
            "acme-erp",
            "acme-shop",
            'currency: JPY\n          rounding: {ending: "0.99"}',
            "more decimals than JPY",
        ),
        (
            "acme-erp",
            "acme-shop",
            "currency: USD\n          approval_threshold_percent: -5",
            "greater than or equal to 0",
        ),
        ("acme-erp", "acme-shop", "currency: USD\n          markup: 5", "Extra inputs"),
    ],
)
def test_a_wrong_pricing_section_is_refused(source, channel, settings, problem):
    with pytest.raises(ConfigErrors, match=problem):
        load_text(FILE.format(source=source, channel=channel, settings=settings))


def test_an_entry_takes_iso_times_or_unix_seconds_and_ends_after_it_starts():
    entry = PriceEntryInput.model_validate(
        {"item": "A", "price": "9.5", "starts_at": "2026-12-01T00:00:00", "ends_at": 1796169600}
    )
    domain = entry.to_domain("r1")
    assert (domain.starts_at, domain.ends_at, domain.connection_id) == (1796083200.0, 1796169600.0, None)
    with pytest.raises(ValueError, match="after"):
        PriceEntryInput.model_validate(
            {"item": "A", "price": "1", "starts_at": "2026-12-02", "ends_at": "2026-12-01"}
        )
    with pytest.raises(ValueError):
        PriceEntryInput.model_validate(
            {"item": "A", "price": "1", "starts_at": "2026-12-02", "ref": "bad ref"}
        )
