"""Documents that once stalled the server, shared by the tests and bench/abuse.py."""


def fragment_bomb(levels: int = 22) -> str:
    """The fragment bomb of issue 7 (853 bytes there, 909 here): each fragment spreads the
    next one twice, and strawberry's depth limiter walked all 2^22 paths (13 s)."""
    fragments = [f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }}" for n in range(levels)]
    fragments.append(f"fragment F{levels} on Query {{ __typename }}")
    return "query Bomb { ...F0 } " + " ".join(fragments)


def aliases(count: int) -> str:
    """`count` aliased `__typename`s: 100,000 of them (1.9 MB) took 6 s to validate."""
    return "{ " + " ".join(f"a{n}: __typename" for n in range(count)) + " }"
