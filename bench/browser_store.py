"""A demo store with many requests at the demo site, for the browser benches.

`build(data_dir, requests=100_000)` runs `powerpermit migrate` and `seed-demo` in
`data_dir`, then writes the requests straight into its SQLite file, as the services would
have left them: DRIVERS drivers and DEVICES more chargers at the demo site (Riverside
Depot, managed by the demo manager), one slot every SPACING per charger, never
overlapping, the present FUTURE_SHARE from the end; the past mostly COMPLETED (with
energy), some EXPIRED, REJECTED or CANCELLED; the future APPROVED, and WAITING_PER_DAY of
each coming day's slots waiting for a manager. Each request has its audit entries (asked,
and decided), which name the site. Progress goes to stderr; `sqlite3` executemany in
transactions of CHUNK rows, synchronous=OFF while loading: ~100,000 requests take
seconds, not the minutes the services would.
"""

import json
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SITE = "site-1"  # the demo site: the demo manager signs in to see it
TIMEZONE = "Europe/Berlin"
DEVICES = 47  # besides the demo's three: 50 chargers
DRIVERS = 200
SPACING = timedelta(hours=4)  # slots last 30 min to 3 h, so they never overlap
FUTURE_SHARE = 0.02  # about two weeks ahead of each charger's ~330 days
WAITING_PER_DAY = 3  # of each coming day's slots, site-wide, waiting for a manager
CHUNK = 20_000
WAITING = [{"code": "needs_manager_approval", "message": "Slots over 2 h need a manager."}]


def env(data_dir: Path) -> dict[str, str]:
    import os

    values = dict(os.environ)
    values["POWERPERMIT_DATA_DIR"] = str(data_dir)
    values["DATABASE_URL"] = f"sqlite+aiosqlite:///{data_dir / 'powerpermit.db'}"
    return values


def powerpermit(data_dir: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=env(data_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"powerpermit {' '.join(args)}: {done.stderr}")
    return done.stdout


def build(data_dir: Path, requests: int = 100_000, seed: int = 1) -> dict[str, Any]:
    """A fresh store in `data_dir`; returns the demo accounts (seed-demo's JSON)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    powerpermit(data_dir, "migrate")
    accounts: dict[str, Any] = json.loads(powerpermit(data_dir, "seed-demo", "--json"))
    db = sqlite3.connect(data_dir / "powerpermit.db")
    try:
        db.execute("PRAGMA synchronous=OFF")
        _people_and_chargers(db)
        _requests(db, requests, random.Random(seed))
        db.execute("ANALYZE")
        db.commit()
    finally:
        db.close()
    return accounts


def chargers() -> list[str]:
    return ["ch-1", "ch-2", "ch-3"] + [f"ch-b{k}" for k in range(DEVICES)]


def drivers() -> list[str]:
    return [f"bench-u{k}" for k in range(DRIVERS)]


def _people_and_chargers(db: sqlite3.Connection) -> None:
    with db:
        db.executemany(
            "INSERT INTO users (id, login, display_name, role) VALUES (?, ?, ?, 'user')",
            [(u, u, f"Driver {k}") for k, u in enumerate(drivers())],
        )
        db.executemany(
            "INSERT INTO site_members (site_id, user_id) VALUES (?, ?)",
            [(SITE, u) for u in drivers()],
        )
        db.executemany(
            "INSERT INTO devices (id, name, site_id, in_service, max_power_w) "
            "VALUES (?, ?, ?, 1, 11000)",
            [(f"ch-b{k}", f"Bay {k + 4}", SITE) for k in range(DEVICES)],
        )
        # Drivers of a busy depot: no practical open-request limit, a month ahead.
        db.execute(
            "UPDATE sites SET horizon_days = 30, max_open_requests = 1000 WHERE id = ?", (SITE,)
        )


Row = tuple[Any, ...]


def _rows(count: int, rng: random.Random) -> Iterator[tuple[Row, list[Row]]]:
    """(request row, its audit rows), oldest first per charger."""
    devices, people = chargers(), drivers()
    per_device = -(-count // len(devices))
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    first = now - SPACING * int(per_device * (1 - FUTURE_SHARE))
    made = 0
    waiting_days: dict[tuple[int, int, int], int] = {}
    for i in range(per_device):
        for device in devices:
            if made == count:
                return
            made += 1
            starts = first + SPACING * i + timedelta(minutes=30 * rng.randrange(2))
            ends = starts + timedelta(minutes=30 * rng.randint(1, 6))
            user = rng.choice(people)
            asked = starts - timedelta(hours=rng.randint(1, 72))
            energy = None
            if ends <= now:
                status = rng.choices(
                    ["COMPLETED", "EXPIRED", "REJECTED", "CANCELLED"], [80, 8, 6, 6]
                )[0]
                if status == "COMPLETED":
                    energy = round((ends - starts).total_seconds() / 3600 * rng.uniform(3e3, 11e3))
            else:
                day = starts.date()
                key = (day.year, day.month, day.day)
                waiting_days[key] = waiting_days.get(key, 0) + 1
                status = "NEEDS_MANAGER" if waiting_days[key] <= WAITING_PER_DAY else "APPROVED"
            reasons = WAITING if status in ("NEEDS_MANAGER", "REJECTED") else []
            decided_by = "m1" if status in ("REJECTED",) else None
            request = (
                made, user, device, SITE, _s(starts), _s(ends), status, json.dumps(reasons),
                _s(asked), decided_by, None, energy, 0,
            )  # fmt: skip
            snapshot = {"status": status, "device_id": device, "starts_at": starts.isoformat()}
            audit = [(_s(asked), user, "request", "usage_request", str(made), None,
                      json.dumps(snapshot), SITE)]  # fmt: skip
            if status in ("COMPLETED", "EXPIRED", "REJECTED", "CANCELLED"):
                action = {"COMPLETED": "receipt", "EXPIRED": "expire", "REJECTED": "reject",
                          "CANCELLED": "cancel"}[status]  # fmt: skip
                actor = {"reject": "m1", "cancel": user}.get(action)
                audit.append((_s(min(ends, now)), actor, action, "usage_request", str(made),
                              None, json.dumps(snapshot), SITE))  # fmt: skip
            yield request, audit


def _requests(db: sqlite3.Connection, count: int, rng: random.Random) -> None:
    started = time.monotonic()
    requests: list[tuple[Any, ...]] = []
    audits: list[tuple[Any, ...]] = []
    done = 0
    for request, audit in _rows(count, rng):
        requests.append(request)
        audits.extend(audit)
        if len(requests) == CHUNK:
            done += _flush(db, requests, audits)
            _progress(done, count, started)
    done += _flush(db, requests, audits)
    _progress(done, count, started)
    print(file=sys.stderr)


def _flush(db: sqlite3.Connection, requests: list[tuple[Any, ...]], audits: list[Any]) -> int:
    written = len(requests)
    with db:
        db.executemany(
            "INSERT INTO usage_requests (id, user_id, device_id, site_id, starts_at, ends_at, "
            "status, reasons, created_at, decided_by, note, energy_wh, revocation_pending) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            requests,
        )
        db.executemany(
            "INSERT INTO audit_log (at, actor_id, action, entity, entity_id, before, after, "
            "site_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            audits,
        )
    requests.clear()
    audits.clear()
    return written


def _progress(done: int, total: int, started: float) -> None:
    elapsed = time.monotonic() - started
    print(f"\r  loading: {done:,}/{total:,} requests, {elapsed:.1f} s", end="", file=sys.stderr)


def _s(moment: datetime) -> int:
    return int(moment.timestamp())


if __name__ == "__main__":  # a store to look at: python bench/browser_store.py DIR [N]
    target = Path(sys.argv[1])
    print(json.dumps(build(target, int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)))
