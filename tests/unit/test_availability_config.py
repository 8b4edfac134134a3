"""The tenant `availability:` section: validated with the file, turned into channel rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crossdock.configuration import ConfigErrors, load_text
from crossdock.domain.availability_rules import SafetyStock

FILE = """
version: 1
tenants:
  - id: acme
    name: ACME
    connections:
      - {{id: acme-shop, kind: http, config: {{url: "http://127.0.0.1:9/shop"}}}}
    availability:
      channels:
        {channel}:
          locations: [WH1, WH2]
          safety_stock: {{units: 2, percent: 10, items: {{SKU-1: 5}}}}
          {allocation}
          cap: 50
          zero_below: 3
          inbound_horizon_days: 7
          dampen_increase_seconds: 300
"""


def test_a_channel_section_becomes_its_rule():
    doc = load_text(FILE.format(channel="acme-shop", allocation="share_percent: 60"))
    (rule,) = doc.tenants[0].availability.to_domain()
    assert rule.connection_id == "acme-shop"
    assert rule.locations == {"WH1", "WH2"}
    assert rule.safety_stock == SafetyStock(Decimal(2), Decimal(10), {"SKU-1": Decimal(5)})
    assert (rule.share_percent, rule.contract_units, rule.cap, rule.zero_below) == (60, None, 50, 3)
    assert (rule.inbound_horizon_days, rule.dampen_increase_seconds, rule.low_stock_at) == (7, 300, 3)


@pytest.mark.parametrize(
    ("channel", "allocation", "problem"),
    [
        ("acme-shop", "share_percent: 60\n          contract_units: 5", "not both"),
        ("acme-shop", "share_percent: 0", "greater than 0"),
        ("acme-shop", "contract_units: -1", "greater than or equal to 0"),
        ("acme-shop", "share: 60", "Extra inputs"),
        ("acme-web", "share_percent: 60", "unknown connection 'acme-web'"),
        ("acme-shop", "low_stock: 2.5", "whole units"),
    ],
)
def test_a_wrong_channel_section_is_refused(channel, allocation, problem):
    with pytest.raises(ConfigErrors, match=problem):
        load_text(FILE.format(channel=channel, allocation=allocation))
