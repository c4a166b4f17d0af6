"""10,000 wrong passwords against one login from one address, while a second client, from
another address and with another login, signs in and works normally.

Run: `.venv/bin/python bench/login_abuse.py [--attempts 10000] [--in-flight 20]
[--quiet-seconds 10] [--time-scale 300]`.

Starts its own `powerpermit serve` on a free loopback port over a temporary data directory
(`migrate`, `seed-demo`, a bench site with no practical open-request limit and a second
driver with a password), with the rate limits off (bench/request_usage.py's UNLIMITED): what
is measured is the login back-off (app/services/login_guard.py) alone. (With them on, the
per-address login limit refuses most attempts first, and the second client's own calls
meet its per-principal limit, so its latencies would measure refusals.)

The back-off's times are divided by `--time-scale` (300: 1 s -> 3.3 ms, the 60 s ceiling
-> 0.2 s, the 15-minute lock -> 3 s), so the attack, ~10 s at full speed here, reaches the
lock; its counts (5 free failures, the lock after 20) are the real policy's. With
`--time-scale 1` (the real policy) the attack ends long before the lock.

The attacker is a child process (this script with `--attack`), 127.0.0.1, sending the
wrong passwords for the demo's `user` over `--in-flight` keep-alive connections with
bench/request_usage.py's minimal client, so its CPU is not the measuring client's. The
second client is httpx bound to 127.0.0.2 (so the server sees another address): it signs
in as its own driver, then in a loop asks for a slot (requestUsage), lists its requests
and reads `me`, one call at a time, and signs in again every 10th round.

Prints progress, then: the attack's duration and how its attempts were answered
(password checked and failed, refused by back-off, refused by lock); the second client's
p50/p99 during the attack beside its quiet p50/p99 of the same run (ratios), its sign-ins,
and whether any of its calls was refused.
"""

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.request_usage import SITE, UNLIMITED, Connection, cli, env_for, free_port  # noqa: E402

ATTACKED = "user"  # the demo's driver
SECOND_LOGIN, SECOND_PASSWORD = "bench-second", "second-driver-pw"
SECOND_ADDRESS = "127.0.0.2"
LOGIN = """mutation ($login: String!, $password: String!) {
  login(login: $login, password: $password) {
    __typename ... on Session { token } ... on TooManyAttempts { retryAfterSeconds } } }"""
ASK = """mutation ($input: RequestUsageInput!) { requestUsage(input: $input) {
  __typename ... on UsageRequest { id status } ... on RequestDenied { reasons { code } } } }"""
LIST = "{ usageRequests(first: 10) { edges { node { id status startsAt } } } }"
ME = "{ me { login role } }"

# `powerpermit serve` with the login back-off's times divided by argv[1].
SERVE_SCALED = """
import dataclasses, sys
from app.services import login_guard
factor = float(sys.argv[1])
p = login_guard.POLICY
login_guard.POLICY = dataclasses.replace(
    p, first_delay=p.first_delay / factor, max_delay=p.max_delay / factor,
    lock_for=p.lock_for / factor, forget_after=p.forget_after / factor)
from app.cli import main
sys.exit(main(["serve", *sys.argv[2:]]))
"""


# --- the attacker (a child process) ---------------------------------------------------------


async def attack(port: int, attempts: int, in_flight: int, lock_above_s: int) -> None:
    """Prints progress to stderr and the answers' counts as JSON to stdout."""
    answers: Counter[str] = Counter()
    sent = 0
    started = time.perf_counter()

    async def worker() -> None:
        nonlocal sent
        conn = await Connection.open(port)
        try:
            while sent < attempts:
                sent += 1
                n = sent
                body = json.dumps(
                    {"query": LOGIN, "variables": {"login": ATTACKED, "password": f"guess-{n}"}}
                ).encode()
                status, reply = await conn.request("POST", "/graphql", body, None)
                answers[classify(status, reply, lock_above_s)] += 1
                if n % 1000 == 0:
                    rate = n / (time.perf_counter() - started)
                    print(f"  attack: {n:,} sent ({rate:,.0f}/s) {dict(answers)}", file=sys.stderr)
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(in_flight)))
    result = {"answers": dict(answers), "seconds": time.perf_counter() - started}
    print(json.dumps(result))


def classify(status: int, reply: bytes, lock_above_s: int) -> str:
    if status == 429:
        return "rate limit"
    try:
        login = json.loads(reply)["data"]["login"]
    except (ValueError, KeyError, TypeError):
        return f"other {status}"
    kind = login["__typename"]
    if kind == "LoginFailed":
        return "password checked"
    if kind == "TooManyAttempts":
        return "lock" if login["retryAfterSeconds"] > lock_above_s else "back-off"
    return kind


# --- the second client ---------------------------------------------------------------------


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)  # requestUsage and the two queries
    sign_ins: list[float] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class Second:
    def __init__(self, port: int, devices: list[str]) -> None:
        transport = httpx.AsyncHTTPTransport(local_address=SECOND_ADDRESS)
        self.client = httpx.AsyncClient(
            transport=transport, base_url=f"http://127.0.0.1:{port}", timeout=30
        )
        self.devices, self.slot, self.token = devices, 0, ""
        self.base = (datetime.now(UTC) + timedelta(hours=1)).replace(minute=0, second=0)

    async def call(self, phase: Phase, query: str, variables: dict[str, object]) -> dict:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        body: dict = response.json()
        if response.status_code != 200 or body.get("errors"):
            phase.refused[f"{response.status_code} {str(body.get('errors'))[:80]}"] += 1
        return body

    async def sign_in(self, phase: Phase) -> None:
        started = time.perf_counter()
        body = await self.call(phase, LOGIN, {"login": SECOND_LOGIN, "password": SECOND_PASSWORD})
        phase.sign_ins.append(time.perf_counter() - started)
        login = (body.get("data") or {}).get("login")
        if login is None:  # refused by a rate limit: counted by `call`
            return
        if login["__typename"] != "Session":
            phase.refused[login["__typename"]] += 1
            return
        self.token = login["token"]

    async def round(self, phase: Phase) -> None:
        device = self.devices[self.slot % len(self.devices)]
        starts = self.base + timedelta(minutes=30 * (self.slot // len(self.devices)))
        self.slot += 1
        ask = {"deviceId": device, "startsAt": starts.isoformat(), "durationMinutes": 30}
        for query, variables in ((ASK, {"input": ask}), (LIST, {}), (ME, {})):
            started = time.perf_counter()
            await self.call(phase, query, variables)
            phase.latencies.append(time.perf_counter() - started)

    async def run(self, phase: Phase, until: "asyncio.Future[object] | float") -> None:
        rounds = 0
        while True:
            done = (
                until.done() if isinstance(until, asyncio.Future) else time.perf_counter() > until
            )
            if done:
                return
            if rounds % 10 == 0:
                await self.sign_in(phase)
            await self.round(phase)
            rounds += 1


# --- the run ---------------------------------------------------------------------------------


def prepare(data_dir: Path, devices: int) -> list[str]:
    from app.domain.model import Role, User
    from app.services.accounts import hash_password
    from app.services.demo import add_busy_site
    from app.store import tables as t
    from app.store.database import create_sync_engine
    from app.store.repositories import Sites, Users

    cli(data_dir, "migrate")
    cli(data_dir, "seed-demo")
    engine = create_sync_engine(env_for(data_dir)["DATABASE_URL"])
    with engine.begin() as conn:
        device_ids, _ = add_busy_site(conn, SITE, devices=devices, drivers=0, now=datetime.now(UTC))
        second = User("u-bench-second", SECOND_LOGIN, "Second client", Role.USER)
        Users(conn).add(second, hash_password(SECOND_PASSWORD))
        Sites(conn).add_person(SITE, second.id, t.site_members)
    engine.dispose()
    return device_ids


async def wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}")
        try:
            conn = await Connection.open(port)
            status, _ = await conn.request("GET", "/healthz", b"", None)
            await conn.close()
            if status == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    sys.exit("server did not become healthy")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def summary(name: str, phase: Phase) -> str:
    sign_in = statistics.median(phase.sign_ins) * 1000 if phase.sign_ins else float("nan")
    return (
        f"{name:7} {len(phase.latencies):6,} calls  p50 {phase.pct(0.5):7.2f} ms  "
        f"p99 {phase.pct(0.99):7.2f} ms  sign-ins {len(phase.sign_ins):3} "
        f"(median {sign_in:6.1f} ms)  refused {sum(phase.refused.values())}"
    )


async def run(args: argparse.Namespace, data_dir: Path) -> None:
    print("preparing the store ...", flush=True)
    devices = prepare(data_dir, devices=20)
    port = free_port()
    log = (data_dir / "server.log").open("wb")
    serve = ["--host", "127.0.0.1", "--port", str(port), *UNLIMITED]
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE_SCALED, str(args.time_scale), *serve],
        cwd=ROOT,
        env=env_for(data_dir),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    second = Second(port, devices)
    try:
        await wait_healthy(port, server)
        print(f"server on :{port}; quiet phase {args.quiet_seconds:.0f} s ...", flush=True)
        quiet = Phase()
        await second.run(quiet, time.perf_counter() + args.quiet_seconds)
        print(summary("quiet", quiet), flush=True)

        max_delay_s = 60 / args.time_scale
        attacker = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--attack",
            str(port),
            "--attempts",
            str(args.attempts),
            "--in-flight",
            str(args.in_flight),
            "--lock-above",
            str(int(max_delay_s) + 1),
            stdout=asyncio.subprocess.PIPE,
        )
        print(f"attack: {args.attempts:,} wrong passwords, {args.in_flight} in flight ...")
        finished = asyncio.ensure_future(attacker.communicate())
        attacked = Phase()
        await second.run(attacked, finished)
        out, _ = await finished
        result = json.loads(out.decode().strip().splitlines()[-1])
    finally:
        await second.client.aclose()
        stop(server)
        log.close()

    answers: dict[str, int] = result["answers"]
    print()
    print(
        f"attack: {sum(answers.values()):,} attempts in {result['seconds']:.1f} s "
        f"({sum(answers.values()) / result['seconds']:,.0f}/s), time scale 1/{args.time_scale:g}"
    )
    kinds = ("password checked", "back-off", "lock", "rate limit")
    for kind in kinds:
        print(f"  {kind:17} {answers.get(kind, 0):7,}")
    for kind in sorted(set(answers) - set(kinds)):
        print(f"  {kind:17} {answers[kind]:7,}")
    print(summary("quiet", quiet))
    print(summary("attack", attacked))
    print(
        f"second client during the attack / quiet: p50 {attacked.pct(0.5) / quiet.pct(0.5):.2f}x"
        f"  p99 {attacked.pct(0.99) / quiet.pct(0.99):.2f}x"
    )
    for phase in (quiet, attacked):
        for what, count in phase.refused.items():
            print(f"  second client refused: {what} x{count}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attempts", type=int, default=10_000)
    parser.add_argument("--in-flight", type=int, default=20)
    parser.add_argument("--quiet-seconds", type=float, default=10.0)
    parser.add_argument("--time-scale", type=float, default=300.0)
    parser.add_argument("--attack", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--lock-above", type=int, default=60, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.attack:
        asyncio.run(attack(args.attack, args.attempts, args.in_flight, args.lock_above))
        return
    data_dir = Path(tempfile.mkdtemp(prefix="pp-login-abuse-"))
    try:
        asyncio.run(run(args, data_dir))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
