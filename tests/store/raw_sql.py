"""Plain SQL against a store at a given migration, for the tests of what a migration does
to rows already stored (the app's tables module describes only the newest schema)."""

import asyncio
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

Statement = tuple[str, dict[str, Any]]


def run_sql(url: str, statements: Sequence[Statement], query: str | None = None) -> list[Any]:
    """The statements in one transaction, then the rows of `query` (none without one)."""

    async def go() -> list[Any]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                for sql, params in statements:
                    await conn.execute(sa.text(sql), params)
                return list((await conn.execute(sa.text(query))).all()) if query else []
        finally:
            await engine.dispose()

    return asyncio.run(go())
