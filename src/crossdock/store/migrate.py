"""Schema migrations (Alembic), driven from code: `crossdock db upgrade` and the test fixtures."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from crossdock.store.db import normalize_url

_HERE = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)
    _analyze(url)


def _analyze(url: str) -> None:
    """PostgreSQL plans a table it has no statistics for badly (a bulk insert into a new
    table then looks dedupe keys up by the wrong index); give it statistics at once."""
    from sqlalchemy import text

    from crossdock.store.db import make_engine

    engine = make_engine(url)
    try:
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from crossdock.store.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def revision(url: str, message: str) -> None:
    """Developer helper: autogenerate a migration from tables.py against `url`."""
    command.revision(alembic_config(url), message=message, autogenerate=True)
