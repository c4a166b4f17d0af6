"""The ASGI GraphQL endpoint: builds a fresh Context per HTTP request or websocket."""

from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from app.schema import schema
from app.schema.context import Context
from app.services.accounts import authenticate, token_from_header
from app.services.container import Services


class GraphQLEndpoint(GraphQL[Context, None]):
    def __init__(self, services: Services) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql",
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        )
        self.services = services

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        user = None
        if isinstance(request, Request):
            token = token_from_header(request.headers.get("authorization"))
            user = await authenticate(self.services, token)
        return Context(services=self.services, user=user, request=request, response=response)

    async def on_ws_connect(self, context: Context) -> None:
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        user = await authenticate(self.services, token_from_header(str(header or "")))
        if user is None:
            raise ConnectionRejectionError({"reason": "a valid bearer token is required"})
        context.user = user
