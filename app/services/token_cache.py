"""A short-lived, bounded memory of which bearer token belongs to whom.

Every API call presents a token; looking it up each time cost ~15% of a requestUsage
call. Only tokens that were found are remembered, for `ttl_s` seconds, so a new token
works at once; a withdrawn token (once tokens can be withdrawn) must call `forget`, and
other server processes forget it within `ttl_s`.
"""

import time
from collections import OrderedDict

from app.domain.model import User


class TokenCache:
    def __init__(self, ttl_s: float = 30.0, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[User, float]] = OrderedDict()

    def get(self, token_hash: str) -> User | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        user, expires = entry
        if expires < time.monotonic():
            del self._entries[token_hash]
            return None
        return user

    def put(self, token_hash: str, user: User) -> None:
        self._entries[token_hash] = (user, time.monotonic() + self.ttl_s)
        self._entries.move_to_end(token_hash)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, token_hash: str) -> None:
        self._entries.pop(token_hash, None)
