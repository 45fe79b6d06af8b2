"""Alembic environment: runs on the connection the store hands over, or on sqlalchemy.url."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import core.store.ledger_tables  # noqa: F401  (its tables join Base.metadata)
from core.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _sync_url(url: str) -> str:
    return url.replace("+aiosqlite", "").replace("postgresql://", "postgresql+psycopg://")


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_sync_url(config.get_main_option("sqlalchemy.url") or ""))
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run()
