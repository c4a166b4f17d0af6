"""`powerpermit backup` / `restore` for SQLite, through SQLite's online backup API.

A backup runs while the server serves: one `Connection.backup` step copies every page
inside one read transaction, and in WAL mode a reader never blocks the server's writer,
so the copy is one consistent moment of the store. (Copying in several steps would start
over each time the server commits, and might never finish on a busy site.) The copy is
written beside its destination, checked, made self-contained (no -wal file), and only
then renamed into place: a half-written backup never sits under the name asked for.

PostgreSQL has its own tools for this; `PostgresBackup` says which, instead of pretending.
"""

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from app.store.database import is_sqlite

Progress = Callable[[str], None]
# `powerpermit backup` yields the CPU to the server it runs beside. On this busy 2-core
# machine, backing up a 137 MiB store, a trivial query's p99 rose 4.4x beside the copy
# as is and 2.4x beside it at niceness 10, requestUsage's 3.0x and 1.7x (same run of
# bench/backup_live.py).
BACKUP_NICENESS = 10


class BackupError(Exception):
    """Refused, with what to do instead; nothing was changed."""


class PostgresBackup(BackupError):
    """The store is PostgreSQL: the message gives the pg_dump / pg_restore commands."""


@dataclass(frozen=True)
class Copied:
    path: Path
    pages: int
    bytes: int
    revision: str | None  # the alembic revision the copy is at
    seconds: float


def sqlite_file(database_url: str, doing: str) -> Path:
    url = make_url(database_url)
    if not is_sqlite(url):
        raise PostgresBackup(postgres_instructions(database_url, doing))
    if not url.database or url.database == ":memory:":
        raise BackupError("the database is in memory: there is no file to back up or restore")
    return Path(url.database)


def postgres_instructions(database_url: str, doing: str) -> str:
    shown = make_url(database_url).set(drivername="postgresql")
    dsn = shown.render_as_string(hide_password=True)
    return (
        f"{doing} works on SQLite only; this store is PostgreSQL. Use its own tools "
        "(the password comes from PGPASSWORD or ~/.pgpass):\n"
        f"  back up:  pg_dump --format=custom --file=PATH '{dsn}'\n"
        f"  restore:  pg_restore --clean --if-exists --no-owner --dbname='{dsn}' PATH\n"
        "pg_dump reads one consistent snapshot while the servers keep serving; stop the "
        "servers before pg_restore. See docs/deploy.md."
    )


def backup(
    database_url: str, target: Path, *, force: bool = False, say: Progress = print
) -> Copied:
    source = sqlite_file(database_url, "powerpermit backup")
    if not source.exists() or source.stat().st_size == 0:
        raise BackupError(f"{source}: no database there to back up")
    if target.exists() and not force:
        raise BackupError(f"{target} exists: choose another path, or pass --force to replace it")
    say(f"backing up {source} ({_mib(source.stat().st_size)}) to {target} ...")
    return _copy(source, target, say)


def restore(
    database_url: str, source: Path, *, force: bool = False, say: Progress = print
) -> Copied:
    target = sqlite_file(database_url, "powerpermit restore")
    _check_backup(source)
    if _has_tables(target) and not force:
        raise BackupError(
            f"{target} already holds a database: restore into an empty data directory, or "
            "stop every server using it and pass --force to replace it"
        )
    say(f"restoring {source} ({_mib(source.stat().st_size)}) to {target} ...")
    # Left beside the replaced file, the old database's -wal would be replayed into the
    # restored one at the next open, corrupting it.
    for sidecar in ("-wal", "-shm", "-journal"):
        target.with_name(target.name + sidecar).unlink(missing_ok=True)
    return _copy(source, target, say)


def _copy(source: Path, target: Path, say: Progress) -> Copied:
    started = time.monotonic()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    _create_private(partial)
    try:
        src = sqlite3.connect(source, timeout=30)
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # every page in one step: one snapshot (see the module's doc)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            verdict = dst.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise BackupError(f"the copy failed its integrity check: {verdict}")
            pages = dst.execute("PRAGMA page_count").fetchone()[0]
            revision = _revision(dst)
        finally:
            dst.close()
            src.close()
        _fsync(partial)
        os.replace(partial, target)
        _fsync(target.parent)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    copied = Copied(
        target, pages, target.stat().st_size, revision, round(time.monotonic() - started, 3)
    )
    say(
        f"done: {copied.pages} pages ({_mib(copied.bytes)}) at revision "
        f"{copied.revision or 'none'} in {copied.seconds:.2f} s"
    )
    return copied


def _check_backup(source: Path) -> None:
    """Only a readable, intact PowerPermit database may replace the store."""
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    try:
        conn = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
        try:
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
            revision = _revision(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as err:
        raise BackupError(f"{source}: not an SQLite database ({err})") from None
    if verdict != "ok":
        raise BackupError(f"{source}: damaged ({verdict}); nothing was restored")
    if revision is None:
        raise BackupError(f"{source}: not a PowerPermit database (no migration revision)")


def _has_tables(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return bool(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return True  # something unreadable is there: never overwrite it without --force


def _revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:
        return None
    return str(row[0]) if row else None


def _create_private(path: Path) -> None:
    """Mode 0600 from the first byte: a backup holds every account's password hash."""
    path.unlink(missing_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"
