"""A trivial query's latency while the server is abused, beside its quiet latency.

Run: `.venv/bin/python bench/abuse.py [--rounds 3] [--seconds 4] [--probes 4]`.

Starts its own `powerpermit serve` on a free loopback port over a temporary data directory
(`migrate`, `seed-demo`), with bench/request_usage.py's server and client helpers. Each
round measures `{ __typename }` from `--probes` keep-alive connections (one request at a
time each) for `--seconds`: first quiet, then while each abuse runs from its own
connections until the same deadline:

- fragment bomb: a 909-byte query whose 22 fragments each spread the next twice;
- 100,000 aliases: a 1.9 MB document;
- oversized bodies: 8 MiB bodies, announced by Content-Length;
- 30 logins: 30 connections each trying a wrong password, over and over.

Each abusive document ends with a comment of its own, so no document cache answers it.

Prints each round as it ends, then the medians over the rounds: p50 and p99 of the
trivial query per abuse, and how the server answered the abusive requests.
"""

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.request_usage import Connection, Round, Server, cli, run_round  # noqa: E402
from tests.schema.abusive_documents import aliases, fragment_bomb  # noqa: E402

Abuse = Callable[[int, float, Counter[str]], Awaitable[None]]

LOGIN = "mutation ($l: String!, $p: String!) { login(login: $l, password: $p) { __typename } }"
OVERSIZED_BYTES = 8 * 1024 * 1024


def unique_bodies(query: str) -> Callable[[int], bytes]:
    """The n-th request's body: `query` and a comment of its own, so that no cache of
    parsed or validated documents answers any of them for free."""
    head = json.dumps({"query": query})[:-2].encode()  # all but the closing `"}`
    return lambda n: head + f' #{n}"}}'.encode()


def answer(status: int, reply: bytes) -> str:
    """What the server said, in a word: the error code, or the HTTP status."""
    try:
        body = json.loads(reply)
    except ValueError:
        return str(status)
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors:
        return str((errors[0].get("extensions") or {}).get("code") or errors[0]["message"][:40])
    data = body.get("data") or {}
    return str(data.get("login", {}).get("__typename") if "login" in data else status)


async def post_repeatedly(
    port: int, bodies: Callable[[int], bytes], deadline: float, answers: Counter[str]
) -> None:
    """One connection posting until the deadline; reconnects when the server closes."""
    conn: Connection | None = None
    sent = 0
    while time.perf_counter() < deadline:
        sent += 1
        try:
            conn = conn or await Connection.open(port)
            status, reply = await conn.request("POST", "/graphql", bodies(sent), None)
            answers[answer(status, reply)] += 1
            if status == 413:  # the server closes the connection after a refused body
                await conn.close()
                conn = None
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            answers[type(error).__name__] += 1
            conn = None
    if conn is not None:
        await conn.close()


async def send_oversized(port: int, deadline: float, answers: Counter[str]) -> None:
    """8 MiB bodies, written as fast as the server takes them, until it answers."""
    chunk = b" " * 65536
    while time.perf_counter() < deadline:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = (
            f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {OVERSIZED_BYTES}\r\n\r\n"
        )
        # Read while writing: a server that closes with our bytes unread resets the
        # connection, and a reset drops its answer if we have not read it by then.
        status = asyncio.create_task(reader.readline())
        try:
            writer.write(head.encode() + b'{"query": "{ __typename }"')
            for _ in range(OVERSIZED_BYTES // len(chunk)):
                if status.done() or time.perf_counter() >= deadline:
                    break
                writer.write(chunk)
                await writer.drain()
        except ConnectionError:
            pass  # the server stopped reading: its answer is in `status`
        try:
            status_line = await asyncio.wait_for(status, 30)
            answers[status_line.split(b" ")[1].decode() if status_line else "closed"] += 1
        except (ConnectionError, TimeoutError) as error:
            answers[type(error).__name__] += 1
        finally:
            writer.close()


def abuses(login: str) -> dict[str, Abuse]:
    wrong = json.dumps({"query": LOGIN, "variables": {"l": login, "p": "not it"}}).encode()

    def posting(bodies: Callable[[int], bytes], connections: int) -> Abuse:
        async def abuse(port: int, deadline: float, answers: Counter[str]) -> None:
            await asyncio.gather(
                *(post_repeatedly(port, bodies, deadline, answers) for _ in range(connections))
            )

        return abuse

    async def oversized(port: int, deadline: float, answers: Counter[str]) -> None:
        await asyncio.gather(*(send_oversized(port, deadline, answers) for _ in range(2)))

    return {
        "fragment bomb": posting(unique_bodies(fragment_bomb()), 2),
        "100,000 aliases": posting(unique_bodies(aliases(100_000)), 2),
        "oversized bodies": oversized,
        "30 logins": posting(lambda _: wrong, 30),
    }


async def measure(
    server: Server, abuse: Abuse | None, seconds: float, probes: int
) -> tuple[Round, Counter[str]]:
    answers: Counter[str] = Counter()
    conns = [await Connection.open(server.port) for _ in range(probes)]
    try:
        deadline = time.perf_counter() + seconds
        attack = asyncio.create_task(abuse(server.port, deadline, answers)) if abuse else None
        await asyncio.sleep(0.2 if abuse else 0)  # let the abuse reach the server first
        # A trivial round never touches request_usage's bench site: no Bench needed.
        left = deadline - time.perf_counter()
        probe = await run_round("trivial", conns, None, left)  # type: ignore[arg-type]
        if attack is not None:
            await attack
    finally:
        for conn in conns:
            await conn.close()
    return probe, answers


async def run(args: argparse.Namespace, server: Server, login: str) -> None:
    await server.wait_healthy()
    kinds: dict[str, Abuse | None] = {"quiet": None, **abuses(login)}
    results: dict[str, list[tuple[Round, Counter[str]]]] = {name: [] for name in kinds}
    print(f"warm-up {args.warmup:.0f}s ...", flush=True)
    await measure(server, None, args.warmup, args.probes)
    for n in range(1, args.rounds + 1):
        for name, abuse in kinds.items():
            probe, answers = await measure(server, abuse, args.seconds, args.probes)
            results[name].append((probe, answers))
            told = ", ".join(f"{k} ×{v}" for k, v in answers.most_common(3))
            print(
                f"round {n}/{args.rounds} {name:17} p50 {probe.pct(0.5):8.2f} ms  "
                f"p99 {probe.pct(0.99):8.2f} ms  ({probe.done} ok, {probe.failed} failed)"
                + (f"  abuse answered: {told}" if told else ""),
                flush=True,
            )
    print()
    print(f"{'{ __typename } while':20} {'p50 ms':>9} {'p99 ms':>9}   abuse answered (all rounds)")
    for name, done in results.items():
        p50 = statistics.median(probe.pct(0.5) for probe, _ in done)
        p99 = statistics.median(probe.pct(0.99) for probe, _ in done)
        total: Counter[str] = sum((answers for _, answers in done), Counter())
        told = ", ".join(f"{k} ×{v}" for k, v in total.most_common(3)) or "-"
        print(f"{name:20} {p50:9.2f} {p99:9.2f}   {told}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0, help="per abuse per round")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--probes", type=int, default=4, help="connections probing latency")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="pp-abuse-"))
    try:
        print(f"data dir {data_dir}: migrate, seed-demo ...", flush=True)
        cli(data_dir, "migrate")
        summary = json.loads(cli(data_dir, "seed-demo", "--json").strip().splitlines()[-1])
        server = Server(data_dir)
        try:
            print(f"server on 127.0.0.1:{server.port} (pid {server.proc.pid})", flush=True)
            asyncio.run(run(args, server, summary["user"]["login"]))
        finally:
            server.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
