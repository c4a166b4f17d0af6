"""Field permissions: who may call what, with a message that says why not."""

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from app.schema.context import Context


class IsAuthenticated(BasePermission):
    message = "Sign in first: send 'Authorization: Bearer <token>'."

    def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
        return info.context.user is not None


class IsManager(BasePermission):
    message = "Only managers may do this."

    def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
        user = info.context.user
        return user is not None and user.is_manager
