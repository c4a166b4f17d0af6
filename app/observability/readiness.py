"""/readyz: may this process take traffic? Every check must pass, or the answer is 503
naming the checks that failed, so a load balancer routes around a process that cannot
serve yet (a database not reachable, a schema behind the code, no signing key, an event
listener that lost its connection and would miss other processes' events).

The reasons are short and fixed: a probe's answer may travel further than the log, so
the details (addresses, driver messages) go to the log only.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from app.services.container import Services

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
CHECK_TIMEOUT_S = 2.0
log = logging.getLogger("powerpermit.readiness")

Check = Callable[[], Awaitable[str | None]]  # None when fine, else why not


class Readiness:
    def __init__(self, services: Services) -> None:
        self.services = services
        scripts = ScriptDirectory(str(MIGRATIONS))  # read once per app
        self.heads = frozenset(scripts.get_heads())  # where the code expects the store
        self.known = frozenset(script.revision for script in scripts.walk_revisions())

    async def check(self) -> dict[str, str]:
        """Each check's verdict: "ok" or a short reason."""
        versions: list[str] | None = None

        async def database() -> str | None:
            nonlocal versions
            try:
                versions = await self.services.db.read(_versions)
            except Exception:  # noqa: BLE001 - the driver's message may name hosts: log only
                log.warning("readiness: database not reachable", exc_info=True)
                return "unreachable"
            return None

        async def migrations() -> str | None:
            if versions is None:
                return "unknown: the database is not reachable"
            if not versions:
                return "not migrated: run `powerpermit migrate`"
            if frozenset(versions) == self.heads:
                return None
            if not frozenset(versions) <= self.known:
                # Newer code migrated the store (a rolling upgrade runs `migrate` first, and
                # its migrations keep the previous release working): keep serving until
                # this process is replaced, or every old process would leave at once.
                log.warning("the store is at %s, newer than this code", ", ".join(versions))
                return None
            return (
                f"at {', '.join(sorted(versions))}, the code expects "
                f"{', '.join(sorted(self.heads))}: run `powerpermit migrate`"
            )

        async def signing_key() -> str | None:
            signer = self.services.signer
            try:
                signer.key  # noqa: B018 - the current key, read from its file if it changed
                published = signer.jwks().get("keys")
            except Exception:  # noqa: BLE001 - a missing or unreadable key file
                log.warning("readiness: signing key not loaded", exc_info=True)
                return "not loaded"
            return None if published else "no key published"

        async def event_listener() -> str | None:
            return None if self.services.bus.is_connected() else "not connected"

        checks: list[tuple[str, Check]] = [
            ("database", database),
            ("migrations", migrations),  # after database: it reads what that one found
            ("signing_key", signing_key),
            ("event_listener", event_listener),
        ]
        verdicts = {}
        for name, check in checks:
            verdicts[name] = await _run(name, check)
        return verdicts


async def _run(name: str, check: Check) -> str:
    try:
        failure = await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
    except TimeoutError:
        failure = f"no answer within {CHECK_TIMEOUT_S:g} s"
        log.warning("readiness check %s timed out", name)
    except Exception:  # noqa: BLE001 - any failure means not ready; details to the log only
        failure = "failed"
        log.warning("readiness check %s failed", name, exc_info=True)
    return "ok" if failure is None else failure


def _versions(conn: Connection) -> list[str]:
    conn.exec_driver_sql("SELECT 1")
    if not sa.inspect(conn).has_table("alembic_version"):
        return []
    return list(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())
