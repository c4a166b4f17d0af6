"""The ASGI GraphQL endpoint: builds a fresh Context per HTTP request or websocket."""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
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

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        accept = request.headers.get("accept", "")
        sub_response.headers[WANTS_HEADER] = "1" if GRAPHQL_RESPONSE in accept else "0"
        return sub_response

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        """GraphQL over HTTP: with graphql-response+json, a request error is a 400."""
        wants = sub_response.headers.get(WANTS_HEADER) == "1"
        del sub_response.headers[WANTS_HEADER]
        response = super().create_response(response_data, sub_response)
        if wants and isinstance(response_data, dict):
            response.headers["content-type"] = GRAPHQL_RESPONSE
            if _is_request_error(response_data):
                response = Response(
                    self.encode_json({"errors": response_data["errors"]}),
                    status_code=400,
                    media_type=GRAPHQL_RESPONSE,
                )
        return response

    async def on_ws_connect(self, context: Context) -> None:
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        user = await authenticate(self.services, token_from_header(str(header or "")))
        if user is None:
            raise ConnectionRejectionError({"reason": "a valid bearer token is required"})
        context.user = user


GRAPHQL_RESPONSE = "application/graphql-response+json"
WANTS_HEADER = "x-powerpermit-wants-graphql-response"


def _is_request_error(result: dict[str, Any]) -> bool:
    """Parsing or validation failed: no data at all, and no error points into a result."""
    errors = result.get("errors") or []
    return result.get("data") is None and bool(errors) and all("path" not in e for e in errors)
