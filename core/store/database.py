"""The store's database: connecting by URL (SQLite by default, PostgreSQL), migrating, sessions."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from core.store.tables import DEFAULT_ACCOUNT, AccountScoped

D = TypeVar("D", bound="Database")


def normalize_url(url: str) -> str:
    """Accepts the URLs people write and picks the async driver the store runs on."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.removeprefix("sqlite://")
    return url


class Database:
    """The connection: SQLite by default, PostgreSQL by URL; each operation of the store is one short transaction."""

    def __init__(self, engine: AsyncEngine, account: str = DEFAULT_ACCOUNT) -> None:
        self.engine = engine
        self.account = account
        """The ad account whose rows this store reads and writes; the others are out of its sight."""
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, info={ACCOUNT_KEY: account})

    @classmethod
    def connect(cls: type[D], url: str) -> D:
        url = normalize_url(url)
        if url.startswith("sqlite"):
            _ensure_parent_dir(url)
            engine = create_async_engine(url, connect_args={"timeout": 30})
            _serialize_sqlite_writes(engine)
        else:
            engine = create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
        return cls(engine)

    async def migrate(self) -> None:
        from core.store.migrate import upgrade

        await upgrade(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()

    def session(self) -> AsyncSession:
        return self._sessions()

    def session_across_accounts(self) -> AsyncSession:
        """A session that sees every ad account's rows: only for finding which account a row belongs to."""
        return AsyncSession(self.engine, expire_on_commit=False, info={ACCOUNT_KEY: None})

    async def count(self, table: type[Any]) -> int:
        async with self.session() as s:
            return int(await s.scalar(select(func.count()).select_from(table)) or 0)


ACCOUNT_KEY = "budget_bot_account"
"""Where a session keeps the ad account it is limited to."""


@event.listens_for(Session, "do_orm_execute")
def _only_the_account(state: ORMExecuteState) -> None:
    """Every ORM SELECT, UPDATE and DELETE of a store's session sees only its account's rows, in subqueries too."""
    account = state.session.info.get(ACCOUNT_KEY)
    if account is None or state.is_column_load or state.is_relationship_load:
        return
    if state.is_select or state.is_update or state.is_delete:
        state.statement = state.statement.options(
            with_loader_criteria(AccountScoped, lambda cls: cls.account == account, include_aliases=True)
        )


@event.listens_for(Session, "before_flush")
def _rows_of_the_account(session: Session, _context: Any, _instances: Any) -> None:
    """A row a store adds belongs to its account."""
    account = session.info.get(ACCOUNT_KEY)
    if account is None:
        return
    for row in session.new:
        if isinstance(row, AccountScoped):
            row.account = account


def _ensure_parent_dir(url: str) -> None:
    path = url.split(":///", 1)[-1] if ":///" in url else ""
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _serialize_sqlite_writes(engine: AsyncEngine) -> None:
    """SQLite allows one writer; BEGIN IMMEDIATE makes concurrent transactions queue instead of failing."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
