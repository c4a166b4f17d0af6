"""Domain errors: raised when a use case asks the model for something it does not allow."""


class DomainError(Exception):
    """Base of every rule the model enforces on its own."""


class InvalidTransition(DomainError):
    """A usage request cannot move from its current status to the one asked for."""

    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(f"a {current} request cannot become {wanted}")
        self.current = current
        self.wanted = wanted
