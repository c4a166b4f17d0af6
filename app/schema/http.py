"""The ASGI GraphQL endpoint: builds a fresh Context per HTTP request or websocket."""

from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from app.auth.access_tokens import AccessTokens, RefusedToken, looks_like_jwt
from app.auth.bearer import authenticate_bearer
from app.domain.model import User
from app.observability.graphql import with_request_id
from app.schema import graphiql, schema
from app.schema.context import Context
from app.schema.limits import MAX_BODY_BYTES
from app.schema.open_sockets import Access, OpenSockets
from app.schema.ws_handler import SplicingHandler
from app.services.accounts import token_from_header
from app.services.container import Services


class GraphQLEndpoint(GraphQL[Context, None]):
    # One JSON encoding per shared subscription result, not per subscriber (ws_handler.py).
    graphql_transport_ws_handler_class = SplicingHandler

    def __init__(
        self, services: Services, access_tokens: AccessTokens, *, production: bool = False
    ) -> None:
        super().__init__(
            schema,
            # Production: no GraphiQL; a browser's GET /graphql is a 404, not the IDE.
            graphql_ide=None if production else "graphiql",
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        )
        self.services = services
        self.production = production
        self.access_tokens = access_tokens
        # Subscriptions end when their access does (the app's lifespan runs its checks).
        self.open_sockets = OpenSockets(services)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Bodies over MAX_BODY_BYTES are refused as soon as they are known to be: from
        Content-Length, or once the bytes received pass the bound (chunked uploads)."""
        if scope["type"] == "websocket":
            socket = _BoundedSocket(receive, send)
            await super().__call__(scope, socket.receive, socket.send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        # Length first: int() refuses strings of over 4,300 digits with a ValueError.
        if declared.isdigit() and (len(declared) > 9 or int(declared) > MAX_BODY_BYTES):
            await _body_too_large()(scope, receive, send)
            return
        token = token_from_header(Headers(scope=scope).get("authorization"))
        try:
            scope[USER_KEY] = await authenticate_bearer(self.services, self.access_tokens, token)
        except RefusedToken:
            await _invalid_token()(scope, receive, send)
            return
        try:
            await super().__call__(scope, _bounded_body(receive), send)
        except BodyTooLarge:
            await _body_too_large()(scope, receive, send)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """Each error names the request it answered (extensions.requestId)."""
        return with_request_id(await super().process_result(request, result))

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL with its assets on this server, not a CDN, gzipped when the browser
        accepts it (app/schema/graphiql.py)."""
        return graphiql.page(request)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        # Who asks over HTTP was settled in __call__ (a refused access token never gets here).
        user = request.scope.get(USER_KEY) if isinstance(request, Request) else None
        return Context(
            services=self.services,
            user=user,
            request=request,
            response=response,
            introspection=not self.production,
        )

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
            # A rate-limited mutation keeps its 429 (and Retry-After), not a 400.
            if _is_request_error(response_data) and response.status_code != 429:
                response = Response(
                    self.encode_json({"errors": response_data["errors"]}),
                    status_code=400,
                    media_type=GRAPHQL_RESPONSE,
                )
        return response

    async def on_ws_connect(self, context: Context) -> None:
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        try:
            token = token_from_header(str(header or ""))
            user = await authenticate_bearer(self.services, self.access_tokens, token)
        except RefusedToken:
            user = None
        if user is None:
            raise ConnectionRejectionError({"reason": "a valid bearer token is required"})
        context.user = user
        if isinstance(context.request, WebSocket) and token is not None:
            self.open_sockets.add(context.request, self._access(user, token))

    def _access(self, user: User, token: str) -> Access:
        now = self.services.clock()
        if not looks_like_jwt(token):  # a login token: it lasts as long as its user
            # Whole seconds, as withdrawals are stored: a user disabled within the second
            # the socket opened is then still a withdrawal at or after it (as for a JWT's iat).
            return Access(user.id, None, None, now.replace(microsecond=0), None)
        claims = self.access_tokens.verify(token, now)  # verified just now: from its cache
        return Access(user.id, claims.client_id, claims.jti, claims.issued_at, claims.expires_at)


class BodyTooLarge(Exception):
    """Raised from inside the body's reading; answered with 413."""


def _bounded_body(receive: Receive) -> Receive:
    received = 0

    async def bounded() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > MAX_BODY_BYTES:
                raise BodyTooLarge
        return message

    return bounded


class _BoundedSocket:
    """A websocket message as big as a refused HTTP body closes the socket (1009: message
    too big) instead of reaching the JSON decoder. The app hears a disconnect; whatever
    it sends after the close is dropped."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive, self._send = receive, send
        self._closed = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "websocket.receive":
            size = len(message.get("text") or "") + len(message.get("bytes") or b"")
            if size > MAX_BODY_BYTES:
                reason = f"messages are limited to {MAX_BODY_BYTES} bytes"
                await self.send({"type": "websocket.close", "code": 1009, "reason": reason})
                return {"type": "websocket.disconnect", "code": 1009}
        return message

    async def send(self, message: Message) -> None:
        if self._closed:
            return
        self._closed = message["type"] == "websocket.close"
        await self._send(message)


def _body_too_large() -> Response:
    error = {
        "message": f"The request body is over {MAX_BODY_BYTES} bytes.",
        "extensions": {"code": "BODY_TOO_LARGE"},
    }
    # Connection: close, for the rest of the body was never read.
    body = with_request_id({"errors": [error]})
    return JSONResponse(body, status_code=413, headers={"Connection": "close"})


def _invalid_token() -> Response:
    """RFC 6750 §3.1: an access token that is expired, revoked, forged or not for this API
    is told so, rather than served as anonymous (the client then knows to get a new one)."""
    error = {"message": "The access token is not valid.", "extensions": {"code": "INVALID_TOKEN"}}
    return JSONResponse(
        with_request_id({"errors": [error]}),
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


USER_KEY = "powerpermit.user"  # the ASGI scope's key for who asks, once authenticated
GRAPHQL_RESPONSE = "application/graphql-response+json"
WANTS_HEADER = "x-powerpermit-wants-graphql-response"


def _is_request_error(result: dict[str, Any]) -> bool:
    """Parsing or validation failed: no data at all, and no error points into a result."""
    errors = result.get("errors") or []
    return result.get("data") is None and bool(errors) and all("path" not in e for e in errors)
