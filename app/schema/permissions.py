"""Field permissions: who may call what, with a message that says why not."""

from typing import Any

from strawberry.permission import BasePermission, PermissionExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from app.domain.model import User
from app.schema.context import Context
from app.schema.operation_scopes import Open, Requirement, requirement

INSUFFICIENT_SCOPE = "INSUFFICIENT_SCOPE"  # RFC 6750's name for the same refusal


def user_of(info: Info[Context, None]) -> User:
    """The caller of a field that IsAuthenticated guards."""
    user = info.context.user
    assert user is not None  # guaranteed by the field's permission class
    return user


class IsAuthenticated(BasePermission):
    message = "Sign in first: send 'Authorization: Bearer <token>'."

    def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
        return info.context.user is not None


class IsManager(BasePermission):
    message = "Only managers may do this."

    def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
        user = info.context.user
        return user is not None and user.is_manager


class ScopeAllows(BasePermission):
    """An OAuth2 access token gets only the operations its scopes name (operation_scopes.py).
    Anyone else passes here: anonymous callers meet the field's own permission classes, and
    first-party sessions are bounded by their role alone."""

    def __init__(self, operation: str, needed: Requirement) -> None:
        self.needed = needed
        if isinstance(needed, str):
            self.message = (
                f"{operation} needs the scope '{needed}', which this access token does not hold."
            )
            self.error_extensions = {"code": INSUFFICIENT_SCOPE, "scope": needed}
        else:
            self.message = (
                f"No access token may call {operation}: sign in to PowerPermit itself to do it."
            )
            self.error_extensions = {"code": INSUFFICIENT_SCOPE}

    def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
        user = info.context.user
        if user is None or user.scopes is None or self.needed is Open.ANYONE:
            return True
        return isinstance(self.needed, str) and self.needed in user.scopes


def require_scopes(*root_types: type) -> None:
    """Give every root field of these types its row's scope check, before the schema is
    built from them: a field added later gets one too, with no one having to remember it."""
    names = StrawberryConfig().name_converter  # the schema's default naming: camelCase
    for root_type in root_types:
        for field in root_type.__strawberry_definition__.fields:  # type: ignore[attr-defined]
            if any(isinstance(e, ScopeCheck) for e in field.extensions):
                continue
            operation = names.from_field(field)
            field.extensions.append(ScopeCheck([ScopeAllows(operation, requirement(operation))]))


class ScopeCheck(PermissionExtension):
    """The scope check as a field extension; no schema directive, so the SDL stays as is."""

    def __init__(self, permissions: list[BasePermission]) -> None:
        super().__init__(permissions, use_directives=False)
