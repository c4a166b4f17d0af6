"""graphql-transport-ws, with each shared `next` payload encoded to JSON once.

Subscribers sharing one execution result (shared_results.py) get the same `data` object,
so their `next` messages differ only in the operation id. strawberry encodes every message
whole, per subscriber: with 1,000 subscribers that was 1,000 encodings of the same
payload per event. Here a `next` message carrying only data is spliced from the payload's
encoding, made once per `data` object, and the subscriber's own operation id. Messages
with errors or extensions, and every other message type, go through strawberry unchanged.

The handler class is strawberry's documented choice on the view
(`graphql_transport_ws_handler_class`, set in http.py); nothing of strawberry is patched.
"""

import json
from collections import OrderedDict
from typing import Any

from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message

from app.schema import broadcast
from app.schema.context import Context

# Payloads whose encoding is kept: the recent events' shared results. The `data` object is
# kept beside its encoding, so its id() cannot be reused by another while it is here.
KEEP = 64
_encoded: OrderedDict[int, tuple[object, str]] = OrderedDict()


def encoded_payload(data: object, encode: Any) -> str:
    """`{"data": data}` as JSON, encoded once per `data` object however often it is sent."""
    key = id(data)
    entry = _encoded.get(key)
    if entry is not None and entry[0] is data:
        return entry[1]
    text: str = encode({"data": data})
    _encoded[key] = (data, text)
    while len(_encoded) > KEEP:
        _encoded.popitem(last=False)
    return text


class SplicingHandler(BaseGraphQLTransportWSHandler[Context, None]):
    _outbox: broadcast.Outbox | None = None

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        # The operation's own task: a subscription resolver running in it may join its
        # topic's group (broadcast.py), which then writes its frames to this socket.
        if isinstance(self.websocket, ASGIWebSocketAdapter):
            if self._outbox is None:
                self._outbox = broadcast.Outbox(self.websocket.ws.send_text)
            encode = self.view.encode_json_string
            broadcast.delivery.set(
                broadcast.Delivery(self._outbox, operation.id, lambda data: encode({"data": data}))
            )
        await super().run_operation(operation)

    async def send_message(self, message: Message) -> None:
        if message["type"] != "next" or not isinstance(self.websocket, ASGIWebSocketAdapter):
            await super().send_message(message)
            return
        payload: dict[str, Any] = message["payload"]  # type: ignore[assignment]
        if payload.keys() != {"data"}:  # errors or extensions: per subscriber, as before
            await super().send_message(message)
            return
        body = encoded_payload(payload["data"], self.view.encode_json_string)
        text = f'{{"id":{json.dumps(message["id"])},"type":"next","payload":{body}}}'
        try:
            await self.websocket.ws.send_text(text)
        except WebSocketDisconnect as exc:  # as strawberry's adapter does
            raise WebSocketDisconnected from exc
