"""What following the keyring costs a permit, and how soon another process signs with a new key.

Run: `.venv/bin/python bench/key_rotation.py [--rounds 7] [--count 3000] [--rotations 5]`.

1. Issuing a permit with a signer that follows the keyring (one `stat` of keyring.json per
   permit) against one that holds a fixed key: interleaved rounds in one process, medians,
   and the ratio.
2. A second process issues permits in a loop from the same keys directory while this one
   runs `rotate` (what `powerpermit keys rotate` does): the time from the start of the
   rotation to that process's first permit under the new kid, and how long a rotation
   takes (a key file and keyring.json written and fsynced), medians over the rotations.
"""

import argparse
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.domain.model import Device, Slot, Status, UsageRequest  # noqa: E402
from app.services.keyring import KeyDirectory  # noqa: E402
from app.services.signer import PermitSigner  # noqa: E402
from device.protocol import SigningKey  # noqa: E402

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def request_and_device() -> tuple[UsageRequest, Device]:
    slot = Slot.starting(NOW + timedelta(hours=1), timedelta(minutes=30))
    assert slot is not None
    request = UsageRequest("1", "u1", "ch-1", "site-1", slot, Status.APPROVED, NOW)
    return request, Device("ch-1", "Bay 1", "site-1")


def per_op(loop: Callable[[int], None], count: int) -> float:
    started = time.perf_counter()
    loop(count)
    return (time.perf_counter() - started) / count


def issuing_cost(keys_dir: Path, rounds: int, count: int) -> None:
    request, device = request_and_device()
    live = PermitSigner.from_directory(keys_dir, "pp")
    fixed = PermitSigner(SigningKey.generate(), "pp")

    def loop(signer: PermitSigner) -> Callable[[int], None]:
        def run(n: int) -> None:
            for _ in range(n):
                signer.issue(request, device, NOW)

        return run

    loop(live)(200)  # warm up both paths
    loop(fixed)(200)
    live_times, fixed_times = [], []
    for round_no in range(1, rounds + 1):
        live_times.append(per_op(loop(live), count))
        fixed_times.append(per_op(loop(fixed), count))
        print(
            f"round {round_no}/{rounds}: following the keyring {live_times[-1] * 1e6:6.1f} us"
            f"  fixed key {fixed_times[-1] * 1e6:6.1f} us",
            flush=True,
        )
    live_m, fixed_m = statistics.median(live_times), statistics.median(fixed_times)
    print(f"issue, following the keyring  median {live_m * 1e6:6.1f} us  {1 / live_m:7.0f}/s")
    print(f"issue, fixed key              median {fixed_m * 1e6:6.1f} us  {1 / fixed_m:7.0f}/s")
    print(f"ratio                         {live_m / fixed_m:.3f} (1.000: the check costs nothing)")
    checks = [per_op(lambda n: [live.keys.get() for _ in range(n)], 20 * count) for _ in range(5)]
    print(f"the check alone (stat keyring.json) median {statistics.median(checks) * 1e6:6.2f} us")


def child(keys_dir: Path) -> None:
    """Issue permits until stdin closes; print the time whenever the kid changes."""
    request, device = request_and_device()
    signer = PermitSigner.from_directory(keys_dir, "pp")
    seen = None
    while True:
        kid = signer.issue(request, device, NOW).kid
        if kid != seen:
            seen = kid
            print(f"{time.time():.6f} {kid}", flush=True)
        if select.select([sys.stdin], [], [], 0)[0] and not sys.stdin.readline():
            return


def pickup_latency(keys_dir: Path, rotations: int) -> None:
    directory = KeyDirectory(keys_dir)
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", str(keys_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdout.readline()  # it signs with the current key
        latencies, durations = [], []
        for n in range(1, rotations + 1):
            started = time.time()
            ring = directory.rotate(datetime.now(UTC))
            done = time.time()
            seen_at, kid = proc.stdout.readline().split()
            assert kid == ring.current_kid, (kid, ring.current_kid)
            latencies.append(float(seen_at) - started)
            durations.append(done - started)
            print(
                f"rotation {n}/{rotations}: took {durations[-1] * 1e3:6.2f} ms; the other "
                f"process signed with {kid} {latencies[-1] * 1e3:6.2f} ms after it began",
                flush=True,
            )
            time.sleep(0.2)
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
    rotation_ms = statistics.median(durations) * 1e3
    pickup_ms = statistics.median(latencies) * 1e3
    print(f"rotation (write, fsync, rename)       median {rotation_ms:6.2f} ms")
    print(f"other process's first new-key permit  median {pickup_ms:6.2f} ms after it began")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--rotations", type=int, default=5)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    with tempfile.TemporaryDirectory(prefix="pp-bench-keys-") as tmp:
        keys_dir = Path(tmp) / "keys"
        KeyDirectory(keys_dir).rotate(datetime.now(UTC))  # a ring with keyring.json to stat
        issuing_cost(keys_dir, args.rounds, args.count)
        pickup_latency(keys_dir, args.rotations)


if __name__ == "__main__":
    main()
