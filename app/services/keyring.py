"""The permit-key ring: the server's signing keys, one file each, and which one signs now.

DATA/keys/permit-signing.ed25519   the first key (the only one before any rotation)
DATA/keys/permit-<kid>.ed25519     each key `add` or `rotate` made (kid in base64url)
DATA/keys/keyring.json             which keys are published, which is current, and the
                                   ring's sequence (it numbers the trust-list documents)

`add` publishes a next key that signs nothing yet; `rotate` makes the next key current
(the one `add` published, or a new one). Publishing first lets chargers learn a key, from
the trust-list document phones carry, before any permit needs it.

Private keys live only in their 0600 files, never in the database or keyring.json. Every
change writes the new key file first, then replaces keyring.json in one rename, so a reader
sees the old ring or the new one, never half of each. Changes take a lock file, so two
operators rotating at once make two keys one after the other, not one lost.

A running server reloads the ring when keyring.json changes (`LiveKeyring`): one `stat` per
use, about a microsecond, next to the ~50 µs an Ed25519 signature costs. Every process on
the data directory therefore signs with the new key from its first permit after the rename,
with no restart and no signal to deliver.
"""

import contextlib
import fcntl
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from device.protocol.keys import SigningKey, b64url

MANIFEST = "keyring.json"
FIRST_KEY = "permit-signing.ed25519"
LOCK = ".keyring.lock"
# A key stops signing when the next one becomes current, but a process that loaded the ring
# just before may still be finishing a permit with it. Pruning waits this long after the
# switch, so that permit is in the database (and counted) before its key can go.
PRUNE_GRACE = timedelta(minutes=2)

log = logging.getLogger("powerpermit.keyring")


class KeyringError(Exception):
    """A keyring change refused, with the reason; nothing changed."""


@dataclass(frozen=True)
class KeyEntry:
    kid: str  # base64url of the 4-byte kid, as in JWKs
    file: str
    created: datetime
    retired: datetime | None  # when another key became current; None while current
    key: SigningKey


@dataclass(frozen=True)
class Keyring:
    """One consistent view of the ring: published keys, oldest first, and the current one."""

    sequence: int
    current_kid: str
    entries: tuple[KeyEntry, ...]

    @property
    def current(self) -> SigningKey:
        return self.entry(self.current_kid).key

    @property
    def staged(self) -> tuple[KeyEntry, ...]:
        """Keys `add` published that have never signed: the next ones, first added first."""
        return tuple(e for e in self.entries if e.retired is None and e.kid != self.current_kid)

    @property
    def oldest(self) -> SigningKey:
        """The key every charger that can still be reached trusts (see `signer`)."""
        return self.entries[0].key

    def entry(self, kid: str) -> KeyEntry:
        for entry in self.entries:
            if entry.kid == kid:
                return entry
        raise KeyringError(f"no key {kid!r} in the keyring")


def kid_text(key: SigningKey) -> str:
    return b64url(key.kid)


class KeyDirectory:
    """The keys directory of one data directory: reads it, and makes the operator's changes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def manifest(self) -> Path:
        return self.path / MANIFEST

    def load(self) -> Keyring:
        """The ring as on disk; a directory without keyring.json is the first key alone
        (created, mode 0600, on first use)."""
        try:
            text = self.manifest.read_text(encoding="utf-8")
        except FileNotFoundError:
            rotated = [p for p in self.path.glob("permit-*.ed25519") if p.name != FIRST_KEY]
            if rotated:  # rotated once: never start afresh
                raise KeyringError(
                    f"{self.manifest} is missing but rotated keys are in {self.path}: restore "
                    "it from a backup; a server without it would sign with the wrong key"
                ) from None
            key = SigningKey.load_or_create(self.path / FIRST_KEY)
            created = datetime.fromtimestamp((self.path / FIRST_KEY).stat().st_mtime, UTC)
            entry = KeyEntry(kid_text(key), FIRST_KEY, created.replace(microsecond=0), None, key)
            return Keyring(0, entry.kid, (entry,))
        return self._parse(json.loads(text))

    def add(self, now: datetime) -> Keyring:
        """Publish a next key that signs nothing yet, so chargers can learn it (through the
        trust-list document) before the rotation that makes it current."""
        with self._locked():
            ring = self.load()
            new = self._new_key(ring, now.replace(microsecond=0))
            changed = Keyring(ring.sequence + 1, ring.current_kid, (*ring.entries, new))
            self._write(changed)
            return changed

    def rotate(self, now: datetime) -> Keyring:
        """Make the next key current: the first one `add` published, else a new one. The
        previous keys stay published."""
        with self._locked():
            ring = self.load()
            now = now.replace(microsecond=0)
            entries = tuple(
                replace(e, retired=now) if e.kid == ring.current_kid else e for e in ring.entries
            )
            if ring.staged:
                current = ring.staged[0].kid
            else:
                new = self._new_key(ring, now)
                entries, current = (*entries, new), new.kid
            changed = Keyring(ring.sequence + 1, current, entries)
            self._write(changed)
            return changed

    def prune(
        self,
        now: datetime,
        last_expiry: Callable[[KeyEntry], datetime | None],
        only: str | None = None,
    ) -> list[str]:
        """Drop every key no permit needs any more (or just key `only`, refusing with the
        reason when it is still needed); the kids dropped, oldest first.

        A key goes when it is not current, was retired at least PRUNE_GRACE ago, and the
        last permit it signed (`last_expiry`, from the database) has expired. Its file is
        deleted: a key no charger should trust must never sign again."""
        with self._locked():
            ring = self.load()
            if only is not None:
                reason = still_needed(ring.entry(only), now, last_expiry(ring.entry(only)))
                if reason:
                    raise KeyringError(f"key {only} is still needed: {reason}")
            gone = [
                e
                for e in ring.entries
                if only in (None, e.kid) and prunable(e, now, last_expiry(e))
            ]
            if not gone:
                return []
            kept = tuple(e for e in ring.entries if e not in gone)
            self._write(Keyring(ring.sequence + 1, ring.current_kid, kept))
            for entry in gone:
                (self.path / entry.file).unlink(missing_ok=True)
            return [e.kid for e in gone]

    # -- internals ---------------------------------------------------------------------------

    def _new_key(self, ring: Keyring, now: datetime) -> KeyEntry:
        """A new key in its own 0600 file (fsynced), not yet named by keyring.json."""
        fresh = self.path / f".new-{secrets.token_hex(4)}.ed25519"
        key = SigningKey.load_or_create(fresh)
        kid = kid_text(key)
        name = f"permit-{kid}.ed25519"
        try:
            if any(e.kid == kid for e in ring.entries):  # 2^-32 per pair: refuse, not clash
                raise KeyringError("the new key's kid equals a published one's; run again")
            os.link(fresh, self.path / name)  # never overwrites a key file
        finally:
            fresh.unlink(missing_ok=True)
        return KeyEntry(kid, name, now, None, key)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _parse(self, data: Any) -> Keyring:
        try:
            entries = tuple(
                KeyEntry(
                    kid=str(item["kid"]),
                    file=str(item["file"]),
                    created=datetime.fromisoformat(item["created"]),
                    retired=datetime.fromisoformat(item["retired"]) if item["retired"] else None,
                    key=SigningKey.load(self.path / _plain_name(str(item["file"]))),
                )
                for item in data["keys"]
            )
            ring = Keyring(int(data["sequence"]), str(data["current"]), entries)
        except (KeyError, TypeError, ValueError, OSError) as err:
            raise KeyringError(f"{self.manifest} is not a usable keyring: {err}") from err
        for entry in entries:
            if kid_text(entry.key) != entry.kid:
                raise KeyringError(f"{entry.file} does not hold key {entry.kid}")
        ring.entry(ring.current_kid)  # the current key must be one of them
        return ring

    def _write(self, ring: Keyring) -> None:
        data = {
            "sequence": ring.sequence,
            "current": ring.current_kid,
            "keys": [
                {
                    "kid": e.kid,
                    "file": e.file,
                    "created": e.created.isoformat(),
                    "retired": e.retired.isoformat() if e.retired else None,
                }
                for e in ring.entries
            ],
        }
        tmp = self.path / f".{MANIFEST}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(data, indent=2) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(self.manifest)
        directory = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def prunable(entry: KeyEntry, now: datetime, last_expiry: datetime | None) -> bool:
    return still_needed(entry, now, last_expiry) is None


def still_needed(entry: KeyEntry, now: datetime, last_expiry: datetime | None) -> str | None:
    """Why the key must stay published, or None when it may go."""
    if entry.retired is None:
        return "it has not signed its last permit yet (current, or next after `keys add`)"
    if now - entry.retired < PRUNE_GRACE:
        ready = (entry.retired + PRUNE_GRACE).strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            "it stopped signing moments ago, a permit it signed may still be on its way "
            f"(wait until {ready})"
        )
    if last_expiry is not None and last_expiry > now:
        return f"a permit it signed is valid until {last_expiry.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    return None


def _plain_name(name: str) -> str:
    """keyring.json names files in its own directory, nothing else."""
    if "/" in name or name.startswith("."):
        raise ValueError(f"bad key file name {name!r}")
    return name


class LiveKeyring:
    """The ring a server process signs with, reloaded when keyring.json changes.

    The check is one `stat` of keyring.json per use: a rename gives it a new inode, so a
    rotation or prune by any process (the CLI) is seen at the next permit. Should a reload
    fail (say a key file the server's user may not read), the ring in hand stays in use, the
    error is logged once, and every later use tries again."""

    def __init__(self, directory: KeyDirectory) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._failed: tuple[int, int, int] | None = None
        self._ring = directory.load()
        self._seen = self._signature()

    def get(self) -> Keyring:
        if self._signature() != self._seen:
            self._reload()
        return self._ring

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.directory.manifest)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _reload(self) -> None:
        with self._lock:
            seen = self._signature()
            if seen == self._seen:
                return  # another thread reloaded meanwhile
            try:
                self._ring = self.directory.load()
            except KeyringError as err:
                if seen != self._failed:  # once per change, not once per permit
                    self._failed = seen
                    log.error(
                        "keyring not reloaded, still signing with %s: %s",
                        self._ring.current_kid,
                        err,
                    )
                return
            self._seen = seen
