"""A short-lived, bounded memory of which bearer token belongs to whom.

Every API call presents a token; looking it up each time cost ~15% of a requestUsage
call. Only tokens that were found are remembered, for `ttl_s` seconds, so a new token
works at once. A withdrawn token is forgotten with `forget`, and all of a withdrawn user's
with `forget_user`, which every process does as the withdrawal reaches it
(app/services/withdrawals.py, within a second).
"""

import time
from collections import OrderedDict

from app.domain.model import User


class TokenCache:
    def __init__(self, ttl_s: float = 30.0, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[User, float]] = OrderedDict()
        self._by_user: dict[str, set[str]] = {}  # user id -> the hashes cached for them

    def get(self, token_hash: str) -> User | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        user, expires = entry
        if expires < time.monotonic():
            self.forget(token_hash)
            return None
        return user

    def put(self, token_hash: str, user: User) -> None:
        self.forget(token_hash)  # a hash moves to its (new) user's index
        self._entries[token_hash] = (user, time.monotonic() + self.ttl_s)
        self._by_user.setdefault(user.id, set()).add(token_hash)
        while len(self._entries) > self.max_entries:
            self.forget(next(iter(self._entries)))

    def forget(self, token_hash: str) -> None:
        entry = self._entries.pop(token_hash, None)
        if entry is None:
            return
        hashes = self._by_user.get(entry[0].id)
        if hashes is not None:
            hashes.discard(token_hash)
            if not hashes:
                del self._by_user[entry[0].id]

    def forget_user(self, user_id: str) -> None:
        for token_hash in list(self._by_user.get(user_id, ())):
            self.forget(token_hash)
