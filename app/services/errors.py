"""Expected failures of a use case; the schema maps each to a typed GraphQL result."""


class ServiceError(Exception):
    """Base of the failures a caller is expected to handle."""


class NotFound(ServiceError):
    def __init__(self, kind: str, id: str) -> None:
        super().__init__(f"No {kind} with id {id!r}.")
        self.kind = kind
        self.id = id


class NotAllowed(ServiceError):
    """The actor may not do this (wrong role, or not their site or request)."""


class Invalid(ServiceError):
    """The input is well-formed but cannot be accepted."""


class RateLimited(ServiceError):
    """Too many attempts from one principal, login or address: the caller is told when to
    come back (`retry_after` seconds; the HTTP answer carries it as Retry-After)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
