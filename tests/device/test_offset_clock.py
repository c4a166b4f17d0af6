"""`run --clock-offset-file`: a local file moves the charger's clock ahead, forward only, so a
test can make a window end now (tests/e2e does, on a real `powerpermit-device run`)."""

import subprocess
import sys
from pathlib import Path

from device.clock import ManualClock, OffsetClock, TrustedTime
from tests.http.live import ROOT

START = 1_800_000_000.0


def test_the_clock_runs_ahead_by_the_files_seconds_and_never_back(tmp_path: Path) -> None:
    inner = ManualClock(START)
    path = tmp_path / "offset"
    clock = OffsetClock(inner, path)
    trusted = TrustedTime(clock, floor=0.0)
    assert clock.wall() == START  # no file: no offset
    path.write_text("10800\n")
    assert clock.wall() == START + 10800
    assert clock.monotonic() == 10800
    assert trusted.now() == START + 10800
    inner.advance(5)
    assert trusted.now() == START + 10805
    for ignored in ("600", "-1", "nan", "inf", "soon", ""):
        path.write_text(ignored)
        assert clock.wall() == START + 5 + 10800, ignored
    path.write_text("20000")
    assert clock.wall() == START + 5 + 20000
    path.unlink()  # gone: time does not jump back either
    assert clock.wall() == START + 5 + 20000


def test_run_offers_the_option_and_says_what_it_is_for() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "device.cli", "run", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "--clock-offset-file" in shown and "tests and demos" in shown
