"""Secrets: sealed at rest, references resolved at use time, rotation, redaction."""

from __future__ import annotations

import stat
from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet

from crossdock.configuration.secrets import (
    KEY_FILE_NAME,
    SecretBox,
    SecretError,
    ensure_key_file,
    prepend_key,
    redact,
)

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def box(*keys: str) -> SecretBox:
    return SecretBox(list(keys))


def test_sealed_literal_opens_to_the_same_value_and_hides_it():
    b = box(Fernet.generate_key().decode())
    token = b.seal(SECRET)
    assert token.startswith("enc:") and SECRET not in token
    assert b.open(token) == SECRET


def test_env_reference_stays_a_reference_and_resolves_at_use_time():
    b = box(Fernet.generate_key().decode())
    assert b.seal("env:ACME_WEBHOOK_SECRET") == "env:ACME_WEBHOOK_SECRET"
    assert b.open("env:ACME_WEBHOOK_SECRET", env={"ACME_WEBHOOK_SECRET": SECRET}) == SECRET


def test_unset_env_reference_names_the_variable():
    with pytest.raises(SecretError, match="environment variable ACME_WEBHOOK_SECRET is not set"):
        box(Fernet.generate_key().decode()).open("env:ACME_WEBHOOK_SECRET", env={})


def test_strict_open_refuses_plaintext():
    b = box(Fernet.generate_key().decode())
    assert b.open("plain") == "plain"
    with pytest.raises(SecretError, match="plaintext"):
        b.open("plain", strict=True)


def test_rotated_token_opens_with_only_the_new_key():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = box(old).seal(SECRET)
    rotated = box(new, old).rotate(token)
    assert rotated != token
    assert box(new).open(rotated) == SECRET
    with pytest.raises(SecretError, match="cannot be decrypted"):
        box(new).open(token)


def test_undecryptable_token_error_does_not_leak():
    token = box(Fernet.generate_key().decode()).seal(SECRET)
    with pytest.raises(SecretError) as info:
        box(Fernet.generate_key().decode()).open(token)
    assert SECRET not in str(info.value) and token not in str(info.value)


def test_redact_hides_kind_secret_fields_and_secret_named_keys_at_any_depth():
    doc = {
        "tenants": [
            {
                "id": "acme",
                "settings": {"erp": {"password": "p4ss", "user": "bot"}},
                "connections": [
                    {"id": "a", "kind": "webhook", "config": {"secret": SECRET, "tolerance_seconds": 300}},
                    {
                        "id": "b",
                        "kind": "http",
                        "config": {
                            "url": "https://erp.example",
                            "bearer_token": "tok",
                            "headers": {"Authorization": "Basic xyz", "X-Api-Key": "k", "X-Tenant": "acme"},
                        },
                    },
                ],
            }
        ]
    }
    out = redact(doc)
    tenant = out["tenants"][0]
    assert tenant["settings"]["erp"] == {"password": "***", "user": "bot"}
    assert tenant["connections"][0]["config"] == {"secret": "***", "tolerance_seconds": 300}
    http = tenant["connections"][1]["config"]
    assert http["bearer_token"] == "***" and http["url"] == "https://erp.example"
    assert http["headers"] == {"Authorization": "***", "X-Api-Key": "***", "X-Tenant": "acme"}
    assert doc["tenants"][0]["connections"][0]["config"]["secret"] == SECRET  # a copy, not in place


def test_redact_uses_the_kind_declared_secret_fields():
    assert redact({"secret": "s", "tolerance_seconds": 1}, kind="webhook") == {
        "secret": "***",
        "tolerance_seconds": 1,
    }
    everything_under = redact({"credentials": {"user": "u", "nested": ["a"]}})
    assert everything_under == {"credentials": {"user": "***", "nested": ["***"]}}


def test_seal_secrets_seals_literals_only():
    b = box(Fernet.generate_key().decode())
    config = {
        "url": "https://x",
        "bearer_token": "tok",
        "headers": {"Authorization": "env:AUTH", "X-Id": "1"},
    }
    sealed = b.seal_secrets(config, "http")
    assert sealed["bearer_token"].startswith("enc:") and sealed["headers"]["Authorization"] == "env:AUTH"
    assert sealed["url"] == "https://x" and sealed["headers"]["X-Id"] == "1"
    assert b.open_secrets(sealed, "http", env={"AUTH": "Basic a"}) == {
        **config,
        "headers": {"Authorization": "Basic a", "X-Id": "1"},
    }


def test_key_file_is_created_private_once_and_rotation_puts_the_new_key_first(tmp_path):
    path = tmp_path / "var" / KEY_FILE_NAME
    keys = ensure_key_file(path)
    assert len(keys) == 1 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_key_file(path) == keys
    new = Fernet.generate_key().decode()
    assert prepend_key(path, new) == [new, *keys]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_ring_from_settings_env_var_or_key_file(tmp_path):
    k1, k2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    from_env = SecretBox.from_settings(SimpleNamespace(secret_key=f"{k1}, {k2}", var_dir=tmp_path))
    assert from_env.source == "env" and from_env.keys == [k1, k2]
    from_file = SecretBox.from_settings(SimpleNamespace(secret_key=None, var_dir=tmp_path))
    assert from_file.source == "file" and (tmp_path / KEY_FILE_NAME).exists()


def test_a_box_rereads_its_key_file_after_another_process_rotated_it(tmp_path):
    settings = SimpleNamespace(secret_key=None, var_dir=tmp_path)
    running = SecretBox.from_settings(settings)
    prepend_key(tmp_path / KEY_FILE_NAME, Fernet.generate_key().decode())
    token = SecretBox.from_settings(settings).seal(SECRET)
    assert running.open(token) == SECRET


def test_an_invalid_key_is_refused():
    with pytest.raises(SecretError, match="not a valid Fernet key"):
        box("not-a-key")
