"""What link abuse costs a legitimate driver: /link/info latency, quiet and under attack.

Run: `.venv/bin/python bench/link_abuse.py [--requests 200] [--slow 32]`. Starts a charger
(`powerpermit-device run`, a real process on a free loopback port), times the driver's
`GET /link/info` (a fresh connection each, as a phone would open), first quiet, then while
an attacker process keeps `--slow` sockets trickling one header line every 5 s (reopening
any the link drops) and streams foreign-origin text/plain permit posts. Prints the median and
p90 of each phase, how many driver requests failed and what the attacker's posts got back.
Loopback only; every phase is bounded.
"""

import argparse
import http.client
import json
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from device.config import init_state  # noqa: E402
from device.protocol.keys import SigningKey, TrustList  # noqa: E402

TRICKLE_EVERY_S = 5.0


def start_charger(state: Path) -> tuple[subprocess.Popen[str], str]:
    init_state(state, "bench-1", TrustList([SigningKey.generate().public_key]))
    command = [sys.executable, "-m", "device.cli", "run", "--state", str(state), "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        event = json.loads(process.stdout.readline() or "{}")
        if event.get("event") == "listening":
            threading.Thread(target=process.stdout.read, daemon=True).start()  # drain logs
            return process, str(event["url"])
    process.kill()
    raise SystemExit("the charger did not start listening within 30 s")


def driver_latencies(url: str, count: int, label: str) -> tuple[list[float], int]:
    parts = urlsplit(url)
    latencies, failures = [], 0
    for n in range(1, count + 1):
        started = time.perf_counter()
        try:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
            conn.request("GET", "/link/info")
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status != 200:
                raise OSError(f"status {response.status}")
            latencies.append(time.perf_counter() - started)
        except OSError:
            failures += 1
        if n % max(count // 4, 1) == 0:
            print(f"  {label}: {n}/{count} requests", flush=True)
        time.sleep(0.02)
    return latencies, failures


def attack(url: str, slow: int, seconds: float) -> None:
    """The attacker: `slow` trickling sockets plus a stream of foreign-origin posts."""
    parts = urlsplit(url)
    address = (parts.hostname or "", parts.port or 0)
    stop = time.monotonic() + seconds
    posts: Counter[str] = Counter()
    reopened = 0
    slots_taken = threading.Event()

    def open_slow() -> socket.socket:
        sock = socket.create_connection(address, timeout=5)
        sock.sendall(b"GET /link/info HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        return sock

    def dropped(sock: socket.socket) -> bool:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        try:
            return sock.recv(4096) == b""  # end of stream: the link let it go
        except OSError:
            return True

    def trickle() -> None:
        nonlocal reopened
        socks = [open_slow() for _ in range(slow)]
        slots_taken.set()
        print("ready", flush=True)
        next_line = time.monotonic() + TRICKLE_EVERY_S
        while time.monotonic() < stop:
            time.sleep(0.1)
            send_now = time.monotonic() >= next_line
            if send_now:
                next_line += TRICKLE_EVERY_S
            for i, sock in enumerate(socks):
                try:
                    if dropped(sock):
                        raise OSError("dropped")
                    if send_now:
                        sock.sendall(b"X-Slow: 1\r\n")
                except OSError:  # dropped by the link: the attacker comes straight back
                    sock.close()
                    socks[i] = open_slow()
                    reopened += 1
        for sock in socks:
            sock.close()

    def foreign_posts() -> None:
        headers = {"Origin": "https://evil.example", "Content-Type": "text/plain"}
        slots_taken.wait()
        while time.monotonic() < stop:
            try:
                conn = http.client.HTTPConnection(*address, timeout=5)
                conn.request("POST", "/link/permit", body=b"PP1:NCFOXN", headers=headers)
                reply = conn.getresponse()
                posts[f"{reply.status} {json.loads(reply.read())['reason']}"] += 1
                conn.close()
            except OSError:
                posts["connection dropped"] += 1

    threads = [threading.Thread(target=trickle), threading.Thread(target=foreign_posts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"foreign_posts": dict(posts), "slow_sockets_reopened": reopened}))


def summary(label: str, latencies: list[float], failures: int) -> str:
    if not latencies:
        return f"{label:>8}: every request failed ({failures})"
    ms = sorted(x * 1000 for x in latencies)
    p90 = ms[int(0.9 * (len(ms) - 1))]
    return (
        f"{label:>8}: median {statistics.median(ms):6.2f} ms   p90 {p90:6.2f} ms   "
        f"failed {failures}/{len(latencies) + failures}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--slow", type=int, default=32)
    parser.add_argument("--attack", help=argparse.SUPPRESS)  # the attacker process's mode
    parser.add_argument("--seconds", type=float, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.attack:
        attack(args.attack, args.slow, args.seconds)
        return

    with tempfile.TemporaryDirectory() as tmp:
        charger, url = start_charger(Path(tmp) / "state")
        try:
            print(f"charger at {url}; {args.requests} driver requests per phase", flush=True)
            quiet = driver_latencies(url, args.requests, "quiet")
            # The attack outlasts the measured phase: at least two trickle rounds and one
            # 10 s request deadline, so the link drops and the attacker reopens sockets.
            seconds = max(args.requests * 0.03 + 5, 2.5 * TRICKLE_EVERY_S)
            attacker = subprocess.Popen(
                [sys.executable, __file__, "--attack", url, "--slow", str(args.slow)]
                + ["--seconds", str(seconds)],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert attacker.stdout is not None
            attacker.stdout.readline()  # "ready": the slow sockets hold every slot
            print(f"attack: {args.slow} slow sockets + foreign-origin posts", flush=True)
            abused = driver_latencies(url, args.requests, "attacked")
            attack_report, _ = attacker.communicate(timeout=seconds + 60)
        finally:
            charger.terminate()
            charger.wait(timeout=30)
    print("GET /link/info latency for the driver (fresh connection each):")
    print(summary("quiet", *quiet))
    print(summary("attacked", *abused))
    print("attacker saw:", attack_report.strip())


if __name__ == "__main__":
    main()
