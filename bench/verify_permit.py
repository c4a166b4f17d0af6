"""Permit verification per permit against a bare Ed25519 verify of the same bytes.

Run: `.venv/bin/python bench/verify_permit.py [--rounds 7] [--count 3000]`. Both loops run
interleaved in the same process; medians over the rounds are printed with ops/s and the
ratio (target: verify_permit reaches 80% of the bare rate). Then the permit's size, its
PP1 text length and the QR version that text needs at error correction level M.
"""

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import segno

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from device.protocol import encode_permit, to_text, verify_permit  # noqa: E402
from device.protocol.cose import decode_sign1, sig_structure  # noqa: E402
from device.protocol.permit import MAX_PERMIT_SIZE  # noqa: E402
from tests.protocol import forge  # noqa: E402

TARGET = 0.80


def per_op(loop: Callable[[int], None], count: int) -> float:
    started = time.perf_counter()
    loop(count)
    return (time.perf_counter() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--count", type=int, default=3000)
    args = parser.parse_args()

    permit = encode_permit(forge.claims(), forge.SERVER_KEY)
    trust = forge.trust()
    message = decode_sign1(permit, max_size=MAX_PERMIT_SIZE)
    signed_bytes = sig_structure(message.protected_bytes, message.payload)
    signature, public_key = message.signature, forge.SERVER_KEY.public_key

    def full(count: int) -> None:
        for _ in range(count):
            verify_permit(permit, trust, device_id=forge.DEVICE_ID, now=forge.NOW)

    def bare(count: int) -> None:
        for _ in range(count):
            public_key.verify(signature, signed_bytes)

    full(200)  # warm up both paths before timing
    bare(200)
    full_times, bare_times = [], []
    for round_no in range(1, args.rounds + 1):
        full_times.append(per_op(full, args.count))
        bare_times.append(per_op(bare, args.count))
        print(
            f"round {round_no}/{args.rounds}: verify_permit {full_times[-1] * 1e6:7.1f} us"
            f"  bare Ed25519 {bare_times[-1] * 1e6:7.1f} us",
            flush=True,
        )
    full_median, bare_median = statistics.median(full_times), statistics.median(bare_times)
    ratio = bare_median / full_median
    print(f"verify_permit   median {full_median * 1e6:7.1f} us  {1 / full_median:9.0f} ops/s")
    print(f"bare Ed25519    median {bare_median * 1e6:7.1f} us  {1 / bare_median:9.0f} ops/s")
    verdict = "meets" if ratio >= TARGET else "misses"
    print(f"ratio           {ratio:.1%} of the bare rate ({verdict} the {TARGET:.0%} target)")

    text = to_text(permit)
    qr = segno.make_qr(text, error="m", boost_error=False)
    print(f"permit size     {len(permit)} bytes (Sig_structure {len(signed_bytes)} bytes)")
    print(f"PP1 text        {len(text)} characters, QR mode {qr.mode}")
    print(f"QR code         version {qr.version} at error correction {qr.error}")


if __name__ == "__main__":
    main()
