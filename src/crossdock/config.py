"""Process settings, read from the environment once by the composition root (never at import)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    database_url: str
    var_dir: Path
    secret_key: str | None = None  # comma-separated Fernet keys, newest first
    max_body_bytes: int = 5 * 1024 * 1024
    message_retention_days: float = 7.0
    dedupe_retention_days: float = 30.0
    lineage_retention_days: float = 7.0
    webhook_tolerance_seconds: int = 300
    lease_seconds: float = 30.0
    claim_batch: int = 200
    worker_concurrency: int = 64
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        var_dir = Path(env.get("CROSSDOCK_VAR_DIR", "var")).resolve()
        url = env.get("CROSSDOCK_DATABASE_URL") or f"sqlite:///{var_dir / 'crossdock.db'}"
        return cls(
            database_url=url,
            var_dir=var_dir,
            secret_key=env.get("CROSSDOCK_SECRET_KEY") or None,
            max_body_bytes=int(env.get("CROSSDOCK_MAX_BODY_BYTES", 5 * 1024 * 1024)),
            message_retention_days=float(env.get("CROSSDOCK_MESSAGE_RETENTION_DAYS", 7)),
            dedupe_retention_days=float(env.get("CROSSDOCK_DEDUPE_RETENTION_DAYS", 30)),
            lineage_retention_days=float(env.get("CROSSDOCK_LINEAGE_RETENTION_DAYS", 7)),
            webhook_tolerance_seconds=int(env.get("CROSSDOCK_WEBHOOK_TOLERANCE_SECONDS", 300)),
            lease_seconds=float(env.get("CROSSDOCK_LEASE_SECONDS", 30)),
            claim_batch=int(env.get("CROSSDOCK_CLAIM_BATCH", 200)),
            worker_concurrency=int(env.get("CROSSDOCK_WORKER_CONCURRENCY", 64)),
        )
