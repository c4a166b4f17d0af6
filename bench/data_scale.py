"""A store of 1,000,000 usage requests over 1,000 chargers, loaded fast, and the reads that
must stay fast at that size, timed server-side on SQLite and PostgreSQL.

Run: `.venv/bin/python bench/data_scale.py [--engine sqlite|postgresql|both]
[--requests 1000000] [--devices 1000] [--fresh] [--explain]`.

The generator writes the rows the services would have written, straight into a migrated
store: on SQLite with `executemany` in transactions of CHUNK rows (synchronous=OFF while
loading), on PostgreSQL with COPY (asyncpg) into a database of its own (`pp_bench_scale`,
dropped and re-created with `--fresh`). The store is kept between runs (var/bench/) and
reused when its shape matches. Its shape, per charger: one slot every 4 h (30 min to 3 h,
never overlapping), the present 85% of the way along; the past mostly COMPLETED (with a
permit and a receipt), some EXPIRED, REJECTED, CANCELLED or REVOKED; of the future two
thirds wait for a manager (a tenth of all requests), the rest APPROVED, with permits for
the next 24 h. `--overdue N` leaves the N most recent past requests still waiting or
approved, as after some downtime (bench/sweep_backlog.py uses that).

Timed through the services, in-process (no HTTP): one charger's availability for a day,
a manager's first approval-queue page, a driver's first charging-history page and first
page of requests. Prints p50 and p99 per read (target p50 < 10 ms); `--explain` prints each
read's query plan too (docs/benchmarks.md shows them).
"""

import argparse
import asyncio
import hashlib
import json
import os
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.cli import migrate  # noqa: E402
from app.services.accounts import hash_token  # noqa: E402
from app.settings import Settings  # noqa: E402

PG_SERVER = "postgres@127.0.0.1:5432"
BENCH_DIR = Path(os.environ.get("POWERPERMIT_BENCH_DIR", ROOT / "var" / "bench"))  # kept stores
CHUNK = 50_000  # rows per transaction (SQLite) or COPY (PostgreSQL)
SPACING = timedelta(hours=4)  # one slot per charger every 4 h; slots last at most 3 h
DEVICES_PER_SITE = 100
DRIVERS_PER_SITE = 1_000
FUTURE_SHARE = 0.15  # of each charger's slots lie ahead; two thirds of those wait
TOKEN = bytes(range(140))  # stands in for a signed permit or receipt (~150 bytes)
TARGET_MS = 10.0

REQUEST_COLUMNS = (
    "id", "user_id", "device_id", "site_id", "starts_at", "ends_at", "status", "reasons",
    "created_at", "decided_by", "note", "energy_wh", "revocation_pending",
)  # fmt: skip
PERMIT_COLUMNS = (
    "id", "request_id", "device_id", "user_id", "not_before", "expires_at", "issued_at",
    "max_energy_wh", "max_power_w", "token", "revoked_at", "revoked_in_sequence",
    "revocation_confirmed_at",
)  # fmt: skip
RECEIPT_COLUMNS = (
    "id", "device_id", "counter", "permit_id", "request_id", "started_at", "stopped_at",
    "energy_wh", "stop_reason", "token", "received_at", "digest",
)  # fmt: skip
WAITING = {"code": "needs_manager_approval", "message": "Slots over 2 h need a manager's approval."}
WAITING_REASONS = json.dumps([WAITING])


@dataclass(frozen=True)
class Shape:
    requests: int = 1_000_000
    devices: int = 1_000
    overdue: int = 0
    seed: int = 1

    @property
    def sites(self) -> int:
        return max(1, self.devices // DEVICES_PER_SITE)

    @property
    def slots_per_device(self) -> int:
        return self.requests // self.devices


@dataclass
class Store:
    """A generated store: where it lives and the moment its "now" was."""

    engine: str
    name: str
    data_dir: Path
    shape: Shape
    now: int = 0

    @property
    def url(self) -> str:
        if self.engine == "sqlite":
            return f"sqlite:///{self.data_dir / 'powerpermit.db'}"
        return f"postgresql+asyncpg://{PG_SERVER}/{self.name}"

    @property
    def marker(self) -> Path:
        return self.data_dir / "shape.json"

    def settings(self) -> Settings:
        return Settings(self.data_dir, self.url)


# --- the rows -------------------------------------------------------------------------------


@dataclass
class Rows:
    requests: list[tuple[Any, ...]] = field(default_factory=list)
    permits: list[tuple[Any, ...]] = field(default_factory=list)
    receipts: list[tuple[Any, ...]] = field(default_factory=list)


def site_id(k: int) -> str:
    return f"scale-s{k}"


def device_id(k: int) -> str:
    return f"scale-s{k // DEVICES_PER_SITE}-d{k % DEVICES_PER_SITE}"


def driver_id(site: int, k: int) -> str:
    return f"scale-s{site}-u{k}"


def manager_id(site: int) -> str:
    return f"scale-m{site}"


def generate_rows(shape: Shape, now: int) -> Iterator[Rows]:
    """Requests in the order they were made (ids grow with time), CHUNK-ish at a time."""
    rng = random.Random(shape.seed)
    per_device = shape.slots_per_device
    now_k = per_device - int(per_device * FUTURE_SHARE)
    overdue_per_device = shape.overdue // shape.devices
    spacing = int(SPACING.total_seconds())
    base = now - now_k * spacing
    request_id = permit_n = receipt_id = 0
    counters = [0] * shape.devices
    rows = Rows()
    for k in range(per_device):
        for d in range(shape.devices):
            request_id += 1
            site = d // DEVICES_PER_SITE
            user = driver_id(site, rng.randrange(DRIVERS_PER_SITE))
            starts = base + k * spacing + rng.randrange(0, 1800, 300)
            status, permit, receipt = _fate(rng, k, now_k, overdue_per_device)
            minutes = (
                rng.choice((150, 180))
                if status == "NEEDS_MANAGER"
                else rng.choice((30, 60, 90, 120))
            )
            ends = starts + minutes * 60
            if status == "APPROVED" and k >= now_k:
                permit = starts - now <= 24 * 3600  # issued within 24 h of the window
            created = starts - rng.randrange(3600, 72 * 3600)
            decided = manager_id(site) if status in ("REJECTED", "REVOKED") else None
            energy = round(minutes / 60 * 7000 * rng.uniform(0.3, 1.0), 1) if receipt else None
            rows.requests.append((
                request_id, user, device_id(d), site_id(site), starts, ends, status,
                WAITING_REASONS if status == "NEEDS_MANAGER" else "[]", created, decided,
                None, energy, False,
            ))  # fmt: skip
            if permit:
                permit_n += 1
                permit_hex = f"{permit_n:032x}"
                revoked = starts - 600 if status == "REVOKED" else None
                rows.permits.append((
                    permit_hex, request_id, device_id(d), user, starts, ends,
                    max(created, starts - 24 * 3600), 22_000, 7_400, TOKEN, revoked,
                    1 if revoked else None, revoked + 60 if revoked else None,
                ))  # fmt: skip
                if receipt:
                    receipt_id += 1
                    counters[d] += 1
                    digest = hashlib.sha256(b"receipt %d" % receipt_id).digest()
                    rows.receipts.append((
                        receipt_id, device_id(d), counters[d], permit_hex, request_id,
                        starts + 60, ends - 120, energy, "window_end", TOKEN, ends + 3600, digest,
                    ))  # fmt: skip
            if len(rows.requests) >= CHUNK:
                yield rows
                rows = Rows()
    if rows.requests:
        yield rows


def _fate(rng: random.Random, k: int, now_k: int, overdue: int) -> tuple[str, bool, bool]:
    """(status, has a permit, has a receipt) of a charger's k-th slot."""
    if k >= now_k:
        waiting = (k - now_k) % 3 != 2
        return ("NEEDS_MANAGER" if waiting else "APPROVED"), False, False
    if k >= now_k - overdue:  # still holding its slot though its window has passed
        return ("APPROVED", True, False) if k % 2 else ("NEEDS_MANAGER", False, False)
    roll = rng.random()
    if roll < 0.70:
        return "COMPLETED", True, True
    if roll < 0.82:
        return "EXPIRED", True, False
    if roll < 0.90:
        return "REJECTED", False, False
    if roll < 0.97:
        return "CANCELLED", False, False
    return "REVOKED", True, False


def people_rows(shape: Shape, now: int) -> dict[str, list[tuple[Any, ...]]]:
    sites, users, managers, members, devices = [], [], [], [], []
    for s in range(shape.sites):
        sites.append((site_id(s), f"Scale site {s}", "UTC", 480, 120, 365, 300, 10**9))
        users.append((manager_id(s), manager_id(s), f"Manager {s}", "manager"))
        managers.append((site_id(s), manager_id(s)))
        for u in range(DRIVERS_PER_SITE):
            users.append((driver_id(s, u), driver_id(s, u), f"Driver {s}.{u}", "user"))
            members.append((site_id(s), driver_id(s, u)))
    for d in range(shape.devices):
        devices.append((device_id(d), device_id(d), site_id(d // DEVICES_PER_SITE), True, 7400, 0))
    return {
        "sites (id, name, timezone, max_duration_min, auto_approve_min, horizon_days, "
        "start_grace_s, max_open_requests)": sites,
        "users (id, login, display_name, role)": users,
        "site_managers (site_id, user_id)": managers,
        "site_members (site_id, user_id)": members,
        "devices (id, name, site_id, in_service, max_power_w, revocation_sequence)": devices,
        "api_tokens (token_hash, user_id, name, created_at)": [
            (hash_token(bench_token(user)), user, "bench", now)
            for user in (manager_id(0), driver_id(0, 0))
        ],
    }


def bench_token(user_id: str) -> str:
    return f"pp_bench_{user_id}"


# --- loading --------------------------------------------------------------------------------


class Progress:
    def __init__(self, total: int) -> None:
        self.total, self.done, self.started = total, 0, time.perf_counter()
        self.next_report = 0

    def add(self, count: int) -> None:
        self.done += count
        if self.done >= self.next_report or self.done >= self.total:
            elapsed = time.perf_counter() - self.started
            rate = self.done / elapsed if elapsed else 0
            print(
                f"  {self.done:>9,} / {self.total:,} requests  {elapsed:6.1f} s  {rate:8,.0f}/s",
                flush=True,
            )
            self.next_report = self.done + max(self.total // 10, 1)


BULK_TABLES = ("usage_requests", "permits", "receipts")


def load_sqlite(store: Store) -> None:
    """Bulk-load practice: the big tables' indexes and the overlap triggers are dropped
    while loading and made again after (the generated slots never overlap: the triggers,
    once back, guard every later write). Loading into them took 174 s, this way 68 s."""
    db = sqlite3.connect(store.data_dir / "powerpermit.db", isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")  # a generated store: a crash while loading reruns it
    db.execute("PRAGMA foreign_keys=OFF")
    marks = ", ".join("?" * len(BULK_TABLES))
    saved = db.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
        f"AND sql IS NOT NULL AND tbl_name IN ({marks}) ORDER BY type",
        BULK_TABLES,
    ).fetchall()
    for kind, name, _ in saved:
        db.execute(f"DROP {kind.upper()} {name}")
    db.execute("BEGIN")
    for target, rows in people_rows(store.shape, store.now).items():
        marks = ", ".join("?" * len(rows[0]))
        db.executemany(f"INSERT INTO {target} VALUES ({marks})", rows)
    db.execute("COMMIT")
    progress = Progress(store.shape.requests)
    for rows in generate_rows(store.shape, store.now):
        db.execute("BEGIN")
        for table, columns, values in _tables(rows):
            marks = ", ".join("?" * len(columns))
            db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", values)
        db.execute("COMMIT")
        progress.add(len(rows.requests))
    started = time.perf_counter()
    for _, _, sql in saved:  # indexes first, then the triggers that use them
        db.execute(sql)
    print(f"  {len(saved)} indexes and triggers made again in "
          f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
    db.close()


async def load_postgresql(store: Store) -> None:
    """COPY into the tables without their secondary indexes, the overlap constraint or the
    foreign-key triggers (session_replication_role = replica), all made again after."""
    conn = await asyncpg.connect(f"postgresql://{PG_SERVER}/{store.name}")
    try:
        tables = list(BULK_TABLES)
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY($1::text[]) "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            tables,
        )
        exclusions = await conn.fetch(
            "SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def "
            "FROM pg_constraint WHERE contype = 'x' AND conrelid::regclass::text = ANY($1)",
            tables,
        )
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        for rule in exclusions:
            await conn.execute(f'ALTER TABLE {rule["tbl"]} DROP CONSTRAINT "{rule["conname"]}"')
        await conn.execute("SET session_replication_role = replica")
        async with conn.transaction():
            for target, rows in people_rows(store.shape, store.now).items():
                table, _, columns = target.partition(" ")
                names = [c.strip() for c in columns.strip("()").split(",")]
                await conn.copy_records_to_table(table, records=rows, columns=names)
        progress = Progress(store.shape.requests)
        for rows in generate_rows(store.shape, store.now):
            async with conn.transaction():
                for table, columns, values in _tables(rows):
                    await conn.copy_records_to_table(table, records=values, columns=columns)
            progress.add(len(rows.requests))
        await conn.execute("RESET session_replication_role")
        started = time.perf_counter()
        await conn.execute("SET maintenance_work_mem = '256MB'")
        for index in indexes:
            await conn.execute(index["indexdef"])
        for rule in exclusions:
            await conn.execute(
                f'ALTER TABLE {rule["tbl"]} ADD CONSTRAINT "{rule["conname"]}" {rule["def"]}'
            )
        print(f"  {len(indexes)} indexes and {len(exclusions)} constraint made again in "
              f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
        for table in ("usage_requests", "receipts"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        print("  VACUUM ANALYZE (what autovacuum would have done by now) ...", flush=True)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def _tables(rows: Rows) -> list[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]]:
    return [
        ("usage_requests", REQUEST_COLUMNS, rows.requests),
        ("permits", PERMIT_COLUMNS, rows.permits),
        ("receipts", RECEIPT_COLUMNS, rows.receipts),
    ]


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(f"postgresql://{PG_SERVER}/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def prepare(engine: str, name: str, shape: Shape, fresh: bool = False) -> Store:
    """The store `name` with `shape`: reused when a previous run left it, else generated."""
    store = Store(engine, name, BENCH_DIR / f"{name}-{engine}", shape)
    if not fresh and store.marker.exists():
        kept = json.loads(store.marker.read_text())
        if kept["shape"] == asdict(shape) and _exists(store):
            store.now = kept["now"]
            print(f"{engine}: reusing {name} ({shape.requests:,} requests)", flush=True)
            return store
    store.data_dir.mkdir(parents=True, exist_ok=True)
    store.marker.unlink(missing_ok=True)
    (store.data_dir / "powerpermit.db").unlink(missing_ok=True)
    if engine == "postgresql":
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    migrate(store.settings())
    store.now = int(datetime.now(UTC).replace(minute=0, second=0, microsecond=0).timestamp())
    print(
        f"{engine}: generating {name}: {shape.requests:,} requests over {shape.devices:,} "
        f"chargers, {shape.overdue:,} overdue ...",
        flush=True,
    )
    started = time.perf_counter()
    if engine == "sqlite":
        load_sqlite(store)
    else:
        asyncio.run(load_postgresql(store))
    print(f"{engine}: generated in {time.perf_counter() - started:.0f} s", flush=True)
    store.marker.write_text(json.dumps({"shape": asdict(shape), "now": store.now}))
    return store


def _exists(store: Store) -> bool:
    if store.engine == "sqlite":
        return (store.data_dir / "powerpermit.db").exists()

    async def check() -> bool:
        conn = await asyncpg.connect(f"postgresql://{PG_SERVER}/postgres")
        try:
            found = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", store.name)
        finally:
            await conn.close()
        return bool(found)

    return asyncio.run(check())


# --- timing the reads -----------------------------------------------------------------------


@dataclass
class Timed:
    name: str
    p50: float
    p99: float
    rows: int


async def time_read(
    name: str, read: Callable[[], Awaitable[Any]], runs: int, size: Callable[[Any], int] = len
) -> Timed:
    for _ in range(max(runs // 10, 5)):
        result = await read()
    latencies = []
    for _ in range(runs):
        started = time.perf_counter()
        result = await read()
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return Timed(
        name,
        statistics.median(latencies),
        latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        size(result),
    )


Read = tuple[str, Callable[[], Awaitable[Any]], Callable[[Any], int]]


async def the_reads(store: Store, services: Any) -> list[Read]:
    """The reads the issue names, as the services serve them to the pages and the API."""
    from app.services import approval_queue, devices, history, queries
    from app.store.repositories import Users

    manager = await services.db.read(lambda conn: Users(conn).get(manager_id(0)))
    driver = await services.db.read(lambda conn: Users(conn).get(driver_id(0, 0)))
    assert manager is not None and driver is not None
    day = datetime.fromtimestamp(store.now, UTC).replace(hour=0) + timedelta(days=1)
    charger = device_id(0)
    return [
        (
            "device.availability, one day",
            lambda: devices.availability(services, driver, charger, day, day + timedelta(days=1)),
            lambda found: len(found.taken),
        ),
        (
            "manager's approval queue (100)",
            lambda: approval_queue.approval_queue(services, manager),
            len,
        ),
        (
            "driver's charging history (10)",
            lambda: history.charging_history(services, driver, 10),
            len,
        ),
        (
            "driver's requests, page 1 (20)",
            lambda: queries.list_requests(services, driver, status=None, first=20, after_id=None),
            lambda page: len(page.requests),
        ),
        (
            "manager's requests, page 1 (20)",
            lambda: queries.list_requests(services, manager, status=None, first=20, after_id=None),
            lambda page: len(page.requests),
        ),
    ]


async def measure(store: Store, runs: int) -> list[Timed]:
    from app.services.container import build_services

    services = build_services(store.settings())
    try:
        return [
            await time_read(name, read, runs, size)
            for name, read, size in await the_reads(store, services)
        ]
    finally:
        await services.db.dispose()


async def explain(store: Store) -> None:
    """Each read once with its SQL recorded, then the plan of each SELECT it issued."""
    from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_cursor

    from app.services.container import build_services

    services = build_services(store.settings())
    issued: list[tuple[str, Any]] = []
    if store.engine == "sqlite":
        import sqlalchemy as sa

        def trace(dbapi_connection: Any, *_: Any) -> None:
            # Prepared statements run on the driver's cursor: only SQLite's own trace sees them.
            dbapi_connection.set_trace_callback(lambda sql: issued.append((sql, None)))

        sa.event.listen(services.db.engine, "checkout", trace)
    else:
        original = AsyncAdapt_asyncpg_cursor.execute

        def record(self: Any, operation: str, parameters: Any = None) -> Any:
            issued.append((operation, parameters))
            return original(self, operation, parameters)

        AsyncAdapt_asyncpg_cursor.execute = record  # type: ignore[method-assign]
    try:
        for name, read, _ in await the_reads(store, services):
            issued.clear()
            await read()
            statements = [(sql, params) for sql, params in issued if _is_select(sql)]
            print(f"\n### {name} ({store.engine})")
            for sql, params in statements:
                print("\n    " + " ".join(sql.split()))
                for line in await _plan(services, store.engine, sql, params):
                    print("      " + line)
    finally:
        if store.engine != "sqlite":
            AsyncAdapt_asyncpg_cursor.execute = original  # type: ignore[method-assign]
        await services.db.dispose()


def _is_select(sql: str) -> bool:
    return sql.lstrip().upper().startswith(("SELECT", "WITH")) and "pg_" not in sql


async def _plan(services: Any, engine: str, sql: str, params: Any) -> list[str]:
    if engine == "sqlite":
        db = sqlite3.connect(services.db.url.database)
        try:
            return [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql)]
        finally:
            db.close()

    def run(conn: Any) -> list[str]:
        text = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql
        return [row[0] for row in conn.exec_driver_sql(text, tuple(params or ()))]

    plan: list[str] = await services.db.read(run)
    return plan


def report(engine: str, timed: list[Timed]) -> None:
    print(f"\n{engine}: {'read':34} {'p50 ms':>8} {'p99 ms':>8} {'rows':>5}")
    for t in timed:
        verdict = "" if t.p50 < TARGET_MS else f"  ABOVE {TARGET_MS:g} ms"
        print(f"{'':{len(engine) + 2}}{t.name:34} {t.p50:8.2f} {t.p99:8.2f} {t.rows:5}{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--requests", type=int, default=Shape.requests)
    parser.add_argument("--devices", type=int, default=Shape.devices)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--fresh", action="store_true", help="generate again even if kept")
    parser.add_argument("--explain", action="store_true", help="print each read's query plan")
    args = parser.parse_args()
    shape = Shape(args.requests, args.devices)
    engines = ("sqlite", "postgresql") if args.engine == "both" else (args.engine,)
    for engine in engines:
        store = prepare(engine, "pp_bench_scale", shape, args.fresh)
        if args.explain:
            asyncio.run(explain(store))
        report(engine, asyncio.run(measure(store, args.runs)))


if __name__ == "__main__":
    main()
