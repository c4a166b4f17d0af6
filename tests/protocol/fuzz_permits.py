"""Long fuzz run of the permit verifier: `python -m tests.protocol.fuzz_permits --runs 100000`.

Engine `atheris` (coverage-guided libFuzzer, used when it imports) or `random` (a seeded
mutator over the test vectors and random CBOR). Every input goes through verify_permit and
read_revocation_list. It prints progress, then the count and the outcome: nothing may be
accepted except the seed permits themselves, and nothing may raise anything but a
ProtocolError. Exit status 1 when either happens.
"""

import argparse
import importlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import cbor2

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "permits"
INTERESTING = [0x00, 0x18, 0x1B, 0x1F, 0x40, 0x5F, 0x7F, 0x80, 0x9F, 0xA0, 0xBF, 0xC0, 0xD8, 0xFF]


class Tally:
    def __init__(self, runs: int, oracle: ModuleType, allowed: frozenset[bytes]) -> None:
        self.runs, self.oracle, self.allowed = runs, oracle, allowed
        self.done = 0
        self.outcomes: Counter[str] = Counter()
        self.accepted: list[bytes] = []
        self.crashes: list[tuple[bytes, str]] = []
        self.started = time.perf_counter()

    def feed(self, data: bytes) -> None:
        for decide in (self.oracle.decide, self.oracle.decide_revocation_list):
            try:
                outcome = decide(data)
            except Exception:  # the finding itself: recorded and reported, never hidden
                self.crashes.append((data, traceback.format_exc(limit=3)))
                outcome = "crash"
            if outcome == "accepted" and decide is self.oracle.decide:
                outcome = "accepted (seed)" if data in self.allowed else "accepted"
                if data not in self.allowed:
                    self.accepted.append(data)
            self.outcomes[outcome] += 1
        self.done += 1
        if self.done % max(self.runs // 10, 1) == 0:
            rate = self.done / (time.perf_counter() - self.started)
            print(f"  {self.done:>9,}/{self.runs:,} inputs  {rate:,.0f}/s", flush=True)

    def report(self) -> int:
        elapsed = time.perf_counter() - self.started
        print(f"{self.done:,} inputs in {elapsed:.1f} s; outcomes (permit and revocation reads):")
        for outcome, count in self.outcomes.most_common():
            print(f"  {outcome:24} {count:>9,}")
        print(f"accepted beyond the seeds: {len(self.accepted)}; crashes: {len(self.crashes)}")
        for data in self.accepted[:3]:
            print(f"  accepted: {data.hex()}")
        for data, trace in self.crashes[:3]:
            print(f"  crash on {data.hex()}\n{trace}")
        return 1 if self.accepted or self.crashes else 0


def seeds() -> list[bytes]:
    return [
        bytes.fromhex(json.loads(path.read_text())["permit_hex"])
        for path in sorted(VECTORS.glob("*.json"))
    ]


def allowed_forms(oracle: ModuleType, corpus: list[bytes]) -> frozenset[bytes]:
    accepted = [data for data in corpus if oracle.decide(data) == "accepted"]
    return frozenset().union(*(oracle.acceptable_forms(data) for data in accepted))


def random_cbor(rng: random.Random, depth: int = 0) -> bytes:
    kind = rng.randrange(9 if depth < 4 else 5)
    if kind == 0:
        return bytes([rng.randrange(0x40)]) + rng.randbytes(rng.choice([0, 0, 1, 2, 4, 8]))
    if kind in (1, 2):
        body = rng.randbytes(rng.randrange(40))
        return bytes([(0x40 if kind == 1 else 0x60) | min(len(body), 23)]) + body
    if kind == 3:
        return bytes([0xE0 | rng.randrange(32)]) + rng.randbytes(rng.choice([0, 1, 2, 4, 8]))
    if kind == 4:
        return rng.randbytes(rng.randrange(1, 16))
    count = rng.randrange(6)
    items = b"".join(random_cbor(rng, depth + 1) for _ in range(count * (2 if kind == 6 else 1)))
    if kind == 7:
        return bytes([0xD8, rng.choice([18, 61, 1, 2, 28, 29, 35])]) + items[:64]
    head = {5: 0x80, 6: 0xA0, 8: 0x80}[kind] | count
    return bytes([head]) + items + (b"\xff" if rng.random() < 0.1 else b"")


def with_unprotected_entry(rng: random.Random, data: bytes) -> bytes:
    """The same signed message with an unprotected header entry added: bytes change, the
    signature does not (how {3: -8} once got through)."""
    try:
        item = cbor2.loads(data)
    except Exception:  # not CBOR: leave it to the byte-level mutations
        return data
    sign1 = item
    while isinstance(sign1, cbor2.CBORTag):
        sign1 = sign1.value
    if not isinstance(sign1, list) or len(sign1) != 4 or not isinstance(sign1[1], dict):
        return data
    label = rng.choice([1, 2, 3, 4, 5, 6, 33, -8, "x", rng.randrange(-70000, 70000)])
    sign1[1] = {**sign1[1], label: rng.choice([-8, -7, 0, b"", b"\x00\x01", "text", [], {}])}
    return cbor2.dumps(item)


def mutate(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    if rng.random() < 0.05:
        return with_unprotected_entry(rng, data)
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(out) + 1)
        op = rng.randrange(7)
        if op == 0 and out:
            out[min(at, len(out) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1 and out:
            out[min(at, len(out) - 1)] = rng.choice(INTERESTING)
        elif op == 2:
            del out[at:]
        elif op == 3:
            out[at:at] = rng.randbytes(rng.randint(1, 8))
        elif op == 4:
            del out[at : at + rng.randint(1, 8)]
        elif op == 5:
            other = rng.choice(corpus)
            cut = rng.randrange(len(other) + 1)
            out[at:] = other[cut:]
        else:
            out[at:at] = random_cbor(rng)
    return bytes(out)


def run_random(tally: Tally, corpus: list[bytes], seed: int) -> None:
    rng = random.Random(seed)
    while tally.done < tally.runs:
        roll = rng.random()
        if roll < 0.15:
            tally.feed(random_cbor(rng))
        else:
            tally.feed(mutate(rng, rng.choice(corpus), corpus))


def run_atheris(atheris: ModuleType, tally: Tally, corpus: list[bytes], seed: int) -> None:
    directory = tempfile.mkdtemp(prefix="permit-corpus-")  # libFuzzer adds what it finds

    def one_input(data: bytes) -> None:
        tally.feed(data)
        if tally.done >= tally.runs:
            shutil.rmtree(directory, ignore_errors=True)
            sys.stdout.flush()
            os._exit(tally.report())  # libFuzzer never returns; leave with our verdict

    for index, data in enumerate(corpus):
        Path(directory, f"seed-{index:03}").write_bytes(data)
    argv = [sys.argv[0], directory, f"-seed={seed}", "-max_len=2048", "-verbosity=0"]
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


def load_oracle(instrument: Callable[[], object] | None) -> ModuleType:
    if instrument is None:
        return importlib.import_module("tests.protocol.oracle")
    with instrument():  # type: ignore[attr-defined]
        importlib.import_module("device.protocol")
    return importlib.import_module("tests.protocol.oracle")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engine", choices=["auto", "atheris", "random"], default="auto")
    args = parser.parse_args()
    atheris = None
    if args.engine != "random":
        try:
            atheris = importlib.import_module("atheris")
        except ImportError:
            if args.engine == "atheris":
                raise
    engine = "atheris" if atheris else "random"
    oracle = load_oracle(atheris.instrument_imports if atheris else None)
    corpus = seeds()
    tally = Tally(args.runs, oracle, allowed_forms(oracle, corpus))
    print(
        f"fuzzing the permit verifier with {engine}: {args.runs:,} inputs, seed {args.seed}, "
        f"{len(corpus)} seed permits",
        flush=True,
    )
    if atheris:
        run_atheris(atheris, tally, corpus, args.seed)
    run_random(tally, corpus, args.seed)
    return tally.report()


if __name__ == "__main__":
    sys.exit(main())
