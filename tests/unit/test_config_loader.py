"""The configuration file: every problem is reported with its file, line and field path."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossdock.configuration import ConfigErrors, load_file, load_text

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "crossdock.yaml"

VALID = """\
version: 1
tenants:
  - id: acme
    name: ACME
    connections:
      - id: acme-events
        kind: webhook
        config: {secret: env:ACME_WEBHOOK_SECRET}
      - id: acme-erp
        kind: http
        config:
          url: http://127.0.0.1:8090/erp/events
        throttle: {rate: 10, burst: 20, max_concurrency: 4}
    routes:
      - from: acme-events
        topics: ["orders/*"]
        to: acme-erp
"""


def errors_of(text: str, source: str = "crossdock.yaml") -> list[str]:
    with pytest.raises(ConfigErrors) as info:
        load_text(text, source)
    return [str(e) for e in info.value.errors]


def test_example_file_is_valid():
    loaded = load_file(EXAMPLE)
    assert [t.id for t in loaded.config.tenants] == ["acme", "globex"]
    erp = loaded.config.tenants[0].connections[1]
    assert erp.kind == "http" and erp.throttle.max_concurrency == 4


def test_validation_error_names_file_line_and_field():
    text = VALID.replace("rate: 10", "rate: 0")
    assert errors_of(text, "examples/crossdock.yaml") == [
        "examples/crossdock.yaml:13: tenants[0].connections[1].throttle.rate: Input should be greater than 0"
    ]


def test_several_errors_are_reported_at_once():
    text = VALID.replace("rate: 10", "rate: -1").replace("name: ACME", "nmae: ACME")
    errors = errors_of(text)
    assert (
        "crossdock.yaml:13: tenants[0].connections[1].throttle.rate: Input should be greater than 0" in errors
    )
    assert "crossdock.yaml:4: tenants[0].nmae: Extra inputs are not permitted" in errors
    assert any(e.startswith("crossdock.yaml:3: tenants[0].name: Field required") for e in errors)


def test_a_typo_in_a_kind_config_is_an_error():
    text = VALID.replace("url: http", "ulr: http")
    errors = errors_of(text)
    assert "crossdock.yaml:12: tenants[0].connections[1].config.ulr: Extra inputs are not permitted" in errors


def test_the_settings_crossdock_reads_are_checked_and_the_rest_are_the_tenants():
    given = "    name: ACME\n    settings: {sla: {shopify: {post_minutes: soon}}, orders: {short_pick: refund}, notes: x}\n"
    errors = errors_of(VALID.replace("    name: ACME\n", given))
    assert any("tenants[0].settings.sla.shopify.post_minutes: Input should be a valid number" in e for e in errors)
    assert any("tenants[0].settings.orders.short_pick: Input should be 'backorder' or 'cancel'" in e for e in errors)
    assert len(errors) == 2  # `notes` is the tenant's own
    good = "    name: ACME\n    settings: {sla: {walmart: {ack_minutes: 240}}, orders: {erp: acme-erp}, notes: x}\n"
    settings = load_text(VALID.replace("    name: ACME\n", good), "c.yaml").tenants[0].settings
    assert settings["notes"] == "x" and settings["sla"] == {"walmart": {"ack_minutes": 240}}


def test_a_file_that_is_not_utf8_or_holds_an_impossible_date_is_an_error_not_a_crash(tmp_path):
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(VALID.replace("name: ACME", "name: Acm\xe9").encode("latin-1"))
    with pytest.raises(ConfigErrors, match=r"latin1.yaml:4: not UTF-8 text"):
        load_file(latin1)
    assert errors_of("version: 1\nwhen: 2026-02-30\n") == ["crossdock.yaml: a value YAML cannot build: ValueError"]


def test_unknown_kind_points_at_the_kind_line():
    (error,) = errors_of(VALID.replace("kind: http", "kind: ftp"))
    assert error.startswith("crossdock.yaml:10: tenants[0].connections[1].kind: Input tag 'ftp'")


def test_yaml_syntax_error_names_file_and_line_without_echoing_it():
    (error,) = errors_of("version: 1\ntenants:\n  - id: [whsec_c2VjcmV0\n", "x.yaml")
    assert error.startswith("x.yaml:4: YAML syntax error")
    assert "whsec_" not in error


def test_duplicate_key_is_an_error():
    (error,) = errors_of(VALID.replace("    name: ACME\n", "    name: ACME\n    name: Other\n"))
    assert error == "crossdock.yaml:5: tenants[0].name: duplicate key"


def test_route_must_join_connections_of_the_same_tenant():
    other = (
        "  - id: globex\n    name: Globex\n    connections:\n      - id: globex-erp\n        kind: http\n"
        "        config: {url: 'https://erp.example'}\n"
    )
    text = VALID.replace("to: acme-erp", "to: globex-erp") + other
    (error,) = errors_of(text)
    assert error.startswith("crossdock.yaml:17: tenants[0].routes[0].to: unknown connection 'globex-erp'")


def test_connection_ids_are_unique_across_the_file():
    other = (
        "  - id: globex\n    name: Globex\n    connections:\n      - id: acme-erp\n        kind: http\n"
        "        config: {url: 'https://erp.example'}\n"
    )
    (error,) = errors_of(VALID + other)
    assert error.startswith("crossdock.yaml:21: tenants[1].connections[0].id: duplicate id 'acme-erp'")


def test_throttle_numbers_must_be_positive():
    errors = errors_of(VALID.replace("burst: 20, max_concurrency: 4", "burst: 0, max_concurrency: -2"))
    assert [e.split(": ")[1] for e in errors] == [
        "tenants[0].connections[1].throttle.burst",
        "tenants[0].connections[1].throttle.max_concurrency",
    ]


def test_tenant_id_must_be_a_slug():
    (error,) = errors_of(VALID.replace("id: acme\n", "id: ACME Corp\n"))
    assert error.startswith("crossdock.yaml:3: tenants[0].id: String should match pattern")


def test_http_url_must_be_http_or_https():
    (error,) = errors_of(VALID.replace("http://127.0.0.1:8090/erp/events", "ftp://erp.example/x"))
    assert error.startswith("crossdock.yaml:12: tenants[0].connections[1].config.url:")


def test_a_malformed_whsec_secret_is_rejected_without_echoing_it():
    (error,) = errors_of(VALID.replace("env:ACME_WEBHOOK_SECRET", "whsec_not*base64!"))
    assert "tenants[0].connections[0].config.secret" in error
    assert "not*base64" not in error


def test_env_reference_must_name_a_variable():
    (error,) = errors_of(VALID.replace("env:ACME_WEBHOOK_SECRET", "env:1-bad"))
    assert "tenants[0].connections[0].config: env:1-bad does not name a valid environment variable" in error


def test_missing_kind_config_field_points_at_its_parent():
    (error,) = errors_of(VALID.replace("config: {secret: env:ACME_WEBHOOK_SECRET}", "config: {}"))
    assert error == "crossdock.yaml:8: tenants[0].connections[0].config.secret: Field required"


def test_version_must_be_1_and_empty_file_is_an_error():
    assert errors_of(VALID.replace("version: 1", "version: 2"))[0].startswith("crossdock.yaml:1: version:")
    assert errors_of("") == ["crossdock.yaml:1: the file is empty"]


def test_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigErrors) as info:
        load_file(tmp_path / "missing.yaml")
    assert "missing.yaml: cannot read" in str(info.value)
