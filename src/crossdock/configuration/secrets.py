"""Secrets in configuration: `env:NAME` references and literals sealed as `enc:` tokens.

What counts as a secret: the fields a connection kind declares in `SECRET_FIELDS`, and
any key, at any depth, whose name matches `SECRET_KEY_PATTERN` (everything under such a
key is secret too). Sealing, opening, rotating and redacting all use that one rule.

The key ring is a list of Fernet keys, newest first: `CROSSDOCK_SECRET_KEY` (comma
separated) or, for the embedded default, `<var_dir>/secret.key` (one key per line,
created with mode 0600 on first use). New tokens use the newest key; any key opens.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from crossdock.connectors.kinds import SECRET_FIELDS
from crossdock.errors import PermanentError

ENV_PREFIX = "env:"
ENC_PREFIX = "enc:"
REDACTED = "***"
SECRET_KEY_PATTERN = re.compile(
    r"secret|token|passw(or)?d|api[-_]?key|private[-_]?key|authorization|cookie|credential", re.I
)
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
KEY_FILE_NAME = "secret.key"


class SecretError(PermanentError):
    """A secret cannot be resolved: unset variable, unknown key, plaintext where refused."""

    def __init__(self, detail: str, hint: str = "") -> None:
        super().__init__("config.secret", detail, hint)


def is_secret_key(key: object, kind: str | None = None, top_level: bool = False) -> bool:
    if not isinstance(key, str):
        return False
    if top_level and kind and key in SECRET_FIELDS.get(kind, ()):
        return True
    return bool(SECRET_KEY_PATTERN.search(key))


def map_secrets(obj: Any, fn: Callable[[Any], Any], kind: str | None = None) -> Any:
    """A deep copy of `obj` with `fn` applied to every secret leaf. A mapping holding a
    known `kind` and a `config` mapping (a connection) applies that kind's secret fields."""
    return _walk(copy.deepcopy(obj), fn, kind, top_level=kind is not None, inside=False)


def _walk(obj: Any, fn: Callable[[Any], Any], kind: str | None, top_level: bool, inside: bool) -> Any:
    if isinstance(obj, Mapping):
        own_kind = obj.get("kind") if isinstance(obj.get("kind"), str) else None
        out = {}
        for key, value in obj.items():
            secret = inside or is_secret_key(key, kind, top_level)
            if key == "config" and own_kind in SECRET_FIELDS and not inside:
                out[key] = _walk(value, fn, own_kind, top_level=True, inside=False)
            else:
                out[key] = _walk(value, fn, None, top_level=False, inside=secret)
        return out
    if isinstance(obj, list):
        return [_walk(item, fn, None, top_level=False, inside=inside) for item in obj]
    return fn(obj) if inside and obj is not None else obj


def redact(obj: Any, kind: str | None = None) -> Any:
    """A deep copy with every secret value replaced by `***` (for logs, output, audit)."""
    return map_secrets(obj, lambda _value: REDACTED, kind)


def map_tokens(obj: Any, fn: Callable[[str], str]) -> Any:
    """A deep copy with `fn` applied to every `enc:` string, wherever it sits."""
    if isinstance(obj, Mapping):
        return {key: map_tokens(value, fn) for key, value in obj.items()}
    if isinstance(obj, list):
        return [map_tokens(item, fn) for item in obj]
    if isinstance(obj, str) and obj.startswith(ENC_PREFIX):
        return fn(obj)
    return obj


def env_reference_name(value: str) -> str | None:
    """`FOO` for `env:FOO`; None when `value` is not an env reference."""
    return value[len(ENV_PREFIX) :] if value.startswith(ENV_PREFIX) else None


class SecretBox:
    """Seals literals into `enc:` tokens and opens tokens and `env:` references."""

    def __init__(self, keys: list[str], *, key_file: Path | None = None, source: str = "explicit") -> None:
        if not keys:
            raise SecretError("the secret key ring is empty")
        self.keys = list(keys)
        self.key_file = key_file
        self.source = source  # env | file | explicit
        self._fernet = _multi(self.keys)

    @classmethod
    def from_settings(cls, settings: Any) -> SecretBox:
        """The ring from `settings.secret_key`, else the key file in `settings.var_dir`."""
        if settings.secret_key:
            return cls(parse_keys(settings.secret_key.replace(",", "\n")), source="env")
        path = Path(settings.var_dir) / KEY_FILE_NAME
        return cls(ensure_key_file(path), key_file=path, source="file")

    def seal(self, value: str) -> str:
        if value.startswith((ENV_PREFIX, ENC_PREFIX)):
            return value
        return ENC_PREFIX + self._fernet.encrypt(value.encode()).decode()

    def open(self, value: str, *, strict: bool = False, env: Mapping[str, str] | None = None) -> str:
        """The plaintext of an `enc:` token or `env:` reference; a plain literal is
        returned as is unless `strict` (values read back from the database)."""
        name = env_reference_name(value)
        if name is not None:
            return _lookup_env(name, os.environ if env is None else env)
        if value.startswith(ENC_PREFIX):
            return self._decrypt(value[len(ENC_PREFIX) :]).decode()
        if strict:
            raise SecretError("a secret is stored in plaintext", "apply the configuration again to seal it")
        return value

    def rotate(self, token: str) -> str:
        """The same secret re-encrypted with the newest key; other values unchanged."""
        if not token.startswith(ENC_PREFIX):
            return token
        raw = token[len(ENC_PREFIX) :].encode()
        self._decrypt(raw.decode())  # fails clearly, reloading the key file once if needed
        return ENC_PREFIX + self._fernet.rotate(raw).decode()

    def seal_secrets(self, obj: Any, kind: str | None = None) -> Any:
        return map_secrets(obj, lambda v: self.seal(str(v)) if _sealable(v) else v, kind)

    def open_secrets(
        self, obj: Any, kind: str | None = None, *, strict: bool = True, env: Mapping[str, str] | None = None
    ) -> Any:
        """Resolve every secret of a stored config, for the connector about to use it."""
        return map_secrets(
            obj, lambda v: self.open(v, strict=strict, env=env) if isinstance(v, str) else v, kind
        )

    def rotate_all(self, obj: Any) -> Any:
        return map_tokens(obj, self.rotate)

    def _decrypt(self, token: str) -> bytes:
        try:
            return self._fernet.decrypt(token.encode())
        except InvalidToken:
            if self._reload():
                return self._decrypt(token)
            raise SecretError(
                "an enc: secret cannot be decrypted with the current key ring",
                "restore the key that sealed it (CROSSDOCK_SECRET_KEY or var/secret.key)",
            ) from None

    def _reload(self) -> bool:
        """Another process may have rotated the key file: read it again once."""
        if self.key_file is None or not self.key_file.exists():
            return False
        keys = parse_keys(self.key_file.read_text())
        if keys == self.keys:
            return False
        self.keys, self._fernet = keys, _multi(keys)
        return True


def _sealable(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _multi(keys: list[str]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError:
        raise SecretError("a secret key is not a valid Fernet key (32 url-safe base64 bytes)") from None


def _lookup_env(name: str, env: Mapping[str, str]) -> str:
    if not ENV_NAME.match(name):
        raise SecretError(f"{name!r} is not a valid environment variable name")
    if name not in env or env[name] == "":
        raise SecretError(
            f"environment variable {name} is not set", f"set {name} for every Crossdock process"
        )
    return env[name]


def parse_keys(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def ensure_key_file(path: Path) -> list[str]:
    """The key file's keys, creating it (mode 0600) with one fresh key on first use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return parse_keys(path.read_text())
    with os.fdopen(fd, "w") as f:
        f.write(Fernet.generate_key().decode() + "\n")
    return parse_keys(path.read_text())


def prepend_key(path: Path, key: str) -> list[str]:
    """Put `key` first in the key file (atomically, mode 0600); the older keys follow."""
    keys = [key, *parse_keys(path.read_text())] if path.exists() else [key]
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(keys) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return keys


def new_key() -> str:
    return Fernet.generate_key().decode()
