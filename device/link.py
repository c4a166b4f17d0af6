"""The local link: HTTP on the device's local address, standing in for BLE/NFC.

A small threaded stdlib server: no dependency beyond the standard library, bounded bodies,
a JSON reason on every refusal. A web page the driver's phone happens to visit can reach
this address too, so the link trusts no request for being local:

- it refuses the content types a page can send without a CORS preflight: `POST
  /link/permit` takes `application/cbor` or `application/json`, every other POST JSON;
- it checks `Origin` (when present) against the allowed origins and `Host` against IP
  literals, `localhost` and its configured names, so DNS rebinding finds no host to use;
  CORS answers only allowed origins;
- `/link/vehicle` is the plug, which is hardware: no web page (a request with an `Origin`)
  and no peer but the charger itself (loopback) may speak for it;
- each request (request line, headers and body together) has one deadline, and when every
  connection slot is taken the one that has waited longest for its request is dropped, so
  slow or idle sockets cannot lock a driver out; each connection carries one request.
"""

import contextlib
import io
import ipaddress
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from device.battery import Battery
from device.protocol.errors import Malformed, ProtocolError
from device.runtime import Charger, NotHolder

DEFAULT_PORT = 8410
MAX_BODY = 64 * 1024
MAX_DRAIN = 16 * 1024 * 1024
MAX_CONNECTIONS = 32
MAX_THREADS = 2 * MAX_CONNECTIONS  # dropped connections whose threads are still ending
DEFAULT_REQUEST_TIMEOUT_S = 10.0

JSON = "application/json"
CBOR = "application/cbor"
_STATUS = {"malformed": 400, "too_large": 413}  # other refusals are 403


class LinkError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


@dataclass
class _Connection:
    """A client socket and how long its current request has been arriving."""

    sock: socket.socket
    since: float
    waiting: bool = True  # its current request has not fully arrived yet


class LinkServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 2 * MAX_CONNECTIONS  # a burst of connects waits in the backlog

    def __init__(
        self,
        charger: Charger,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        allowed_origins: Iterable[str] | None = None,
        link_hosts: Iterable[str] | None = None,
        request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
    ) -> None:
        config = charger.config
        origins = config.allowed_origins if allowed_origins is None else allowed_origins
        hosts = config.link_hosts if link_hosts is None else link_hosts
        self.charger = charger
        self.allowed_origins = frozenset(o.rstrip("/").lower() for o in origins)
        self.link_hosts = frozenset(h.lower() for h in hosts) | {"localhost"}
        self.request_timeout_s = request_timeout_s
        self._lock = threading.Lock()
        self._open: dict[socket.socket, _Connection] = {}
        self._running = 0
        super().__init__((host, port), LinkHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            full = len(self._open) >= MAX_CONNECTIONS
            if self._running >= MAX_THREADS or (full and not self._drop_longest_waiting()):
                self.shutdown_request(request)  # every slot is serving a request: drop this
                return
            self._open[request] = _Connection(request, time.monotonic())
            self._running += 1
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._open.pop(request, None)
                self._running -= 1

    def request_started(self, sock: socket.socket) -> None:
        with self._lock:
            if sock in self._open:
                self._open[sock].since, self._open[sock].waiting = time.monotonic(), True

    def request_arrived(self, sock: socket.socket) -> None:
        with self._lock:
            if sock in self._open:
                self._open[sock].waiting = False

    def _drop_longest_waiting(self) -> bool:
        """Free a slot from the connection that has waited longest for its request.

        A driver's request arrives in milliseconds; a socket still waiting is slow, idle or
        hostile. Its thread sees end-of-stream and ends; it no longer counts as open.
        """
        waiting = [c for c in self._open.values() if c.waiting]
        if not waiting:
            return False
        victim = min(waiting, key=lambda c: c.since)
        del self._open[victim.sock]
        with contextlib.suppress(OSError):  # it may have closed on its own meanwhile
            victim.sock.shutdown(socket.SHUT_RDWR)
        return True


class _DeadlineReader(io.RawIOBase):
    """Socket reads sharing one deadline: each recv may wait only for the time that is left,
    so trickling a byte now and then does not buy a request more time."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.deadline = float("inf")
        self.ended = False  # the peer closed, or the link dropped it to free its slot

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request took longer than its deadline")
        self._sock.settimeout(left)
        received = self._sock.recv_into(buffer)
        self.ended = self.ended or received == 0
        return received


class LinkHandler(BaseHTTPRequestHandler):
    server: LinkServer
    protocol_version = "HTTP/1.1"
    server_version = "PowerPermitDevice/0.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # the stdlib's reader waits per read; ours shares one deadline
        self._reader = _DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        self.server.request_started(self.connection)
        self._reader.deadline = time.monotonic() + self.server.request_timeout_s
        super().handle_one_request()

    def parse_request(self) -> bool:
        """The stdlib takes end-of-stream for the end of the headers: a request cut off (by
        its client, or by the link dropping the connection) is not a request."""
        if not super().parse_request():
            return False
        if self._reader.ended:
            self.close_connection = True
            return False
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors the stdlib parser finds (bad request line, huge headers) answer JSON too."""
        self.close_connection = True
        reason = "too_large" if code in (413, 414, 431) else "malformed"
        if code in (405, 501):
            reason = "method_not_allowed"
        self._send(code, {"reason": reason, "message": message or explain or str(code)})

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: `run` logs state changes, not requests."""

    def do_OPTIONS(self) -> None:
        self._dispatch({}, preflight=True)

    def do_GET(self) -> None:
        self._dispatch({"/link/info": self._info, "/link/receipts": self._receipts})

    def do_POST(self) -> None:
        self._dispatch(
            {
                "/link/permit": self._permit,
                "/link/vehicle": self._vehicle,
                "/link/stop": self._stop,
                "/link/revocations": self._revocations,
                "/link/trust": self._trust,
                "/link/receipts/ack": self._ack,
            }
        )

    # -- routes ------------------------------------------------------------------------------

    def _info(self) -> tuple[int, Any]:
        return 200, self.server.charger.info()

    def _receipts(self) -> tuple[int, Any]:
        return 200, {"receipts": self.server.charger.receipts()}

    def _permit(self) -> tuple[int, Any]:
        if self._content_type == CBOR:
            permit = self._raw or b""
        else:
            permit = self._text_field("permit", '{"permit": "<PP1: text or base64url token>"}')
        decision = self.server.charger.present_permit(permit)
        if decision.reason is None:
            return 200, decision.to_json()
        return _STATUS.get(decision.reason, 403), decision.to_json()

    def _vehicle(self) -> tuple[int, Any]:
        if "Origin" in self.headers:
            raise LinkError(403, "forbidden_origin", "the plug is hardware: no web page sets it")
        if not ipaddress.ip_address(self.client_address[0]).is_loopback:
            raise LinkError(403, "forbidden_peer", "the plug is set only from the charger itself")
        data = self._object('send {"plugged": true|false, ...}')
        if not isinstance(data.get("plugged"), bool):
            raise LinkError(400, "malformed", 'send {"plugged": true|false, ...}')
        try:
            battery = Battery.from_json(data) if data["plugged"] else None
        except Malformed as err:
            raise LinkError(400, "malformed", str(err)) from err
        self.server.charger.set_vehicle(battery)
        return 200, self.server.charger.info()

    def _stop(self) -> tuple[int, Any]:
        usage = 'send {"holder": "<from the permit\'s answer>"} or {"permit": "<the permit>"}'
        data = self._object(usage)
        holder, permit = data.get("holder"), data.get("permit")
        if not isinstance(holder, str) and not isinstance(permit, str):
            raise LinkError(400, "malformed", usage)
        try:
            stopped = self.server.charger.stop(
                holder=holder if isinstance(holder, str) else None,
                permit=permit.encode("utf-8") if isinstance(permit, str) else None,
            )
        except NotHolder as err:
            raise LinkError(403, NotHolder.code, str(err)) from err
        return 200, {"stopped": stopped, **self.server.charger.info()}

    def _revocations(self) -> tuple[int, Any]:
        token = self._text_field("revocations", '{"revocations": "<base64url token>"}')
        result = self.server.charger.apply_revocations(token)
        if result["accepted"]:
            return 200, result
        return _STATUS.get(result["reason"], 403), result

    def _trust(self) -> tuple[int, Any]:
        token = self._text_field("trust", '{"trust": "<base64url token>"}')
        result = self.server.charger.apply_trust_update(token)
        if result["accepted"]:
            return 200, result
        return _STATUS.get(result["reason"], 403), result

    def _ack(self) -> tuple[int, Any]:
        token = self._text_field("acknowledgement", '{"acknowledgement": "<base64url>"}')
        try:
            deleted = self.server.charger.ack_receipts(token)
        except ProtocolError as err:
            status = _STATUS.get(err.code, 403)
            raise LinkError(status, err.code, str(err) or err.code) from err
        return 200, {"acknowledged": deleted}

    # -- who may ask ---------------------------------------------------------------------------

    def _check_host(self) -> None:
        """DNS rebinding needs a name that resolves here: answer only names we were given."""
        host = self.headers.get("Host", "")
        try:
            name = urlsplit(f"//{host}").hostname or ""
        except ValueError:
            name = ""
        if not name:
            raise LinkError(403, "forbidden_host", "a Host header naming the charger is required")
        try:
            ipaddress.ip_address(name)
            return  # an IP literal cannot be rebound
        except ValueError:
            pass
        if name not in self.server.link_hosts:
            raise LinkError(403, "forbidden_host", f"this charger does not answer to {name!r}")

    def _check_origin(self) -> None:
        origin = self.headers.get("Origin")
        if origin is not None and origin.rstrip("/").lower() not in self.server.allowed_origins:
            raise LinkError(403, "forbidden_origin", f"pages from {origin!r} may not use the link")

    def _check_content_type(self, path: str) -> None:
        """Only types a page cannot send without a CORS preflight (which CORS then refuses)."""
        allowed = (CBOR, JSON) if path == "/link/permit" else (JSON,)
        self._content_type = self.headers.get_content_type()  # text/plain when absent
        if self._content_type not in allowed:
            raise LinkError(415, "unsupported_media_type", f"send {' or '.join(allowed)}")

    # -- plumbing ----------------------------------------------------------------------------

    def _dispatch(
        self, routes: dict[str, Callable[[], tuple[int, Any]]], *, preflight: bool = False
    ) -> None:
        path = self.path.split("?", 1)[0]
        self._raw: bytes | None = None
        try:
            self._check_host()
            self._check_origin()
            if preflight:
                self.server.request_arrived(self.connection)
                self._send(204, None)
                return
            route = routes.get(path)
            if route is None:
                raise LinkError(404, "not_found", f"no route {self.command} {path}")
            if self.command == "POST":
                self._check_content_type(path)
            self._raw = self._body()
            self.server.request_arrived(self.connection)
            status, body = route()
        except LinkError as err:
            if self._raw is None:  # refused before its body was read: the rest is unparsed
                self.close_connection = True
            self._send(err.status, {"reason": err.reason, "message": err.message})
        else:
            self._send(status, body)

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise LinkError(411, "malformed", "send a Content-Length, not chunked encoding")
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError as err:
            self.close_connection = True
            raise LinkError(400, "malformed", "bad Content-Length") from err
        if length < 0:
            self.close_connection = True
            raise LinkError(400, "malformed", "bad Content-Length")
        if length > MAX_BODY:
            self._drain(length)
            raise LinkError(413, "too_large", f"body larger than {MAX_BODY} bytes")
        try:
            body = self.rfile.read(length)
        except TimeoutError as err:
            self.close_connection = True
            raise LinkError(408, "malformed", "body arrived too slowly") from err
        if len(body) != length:
            self.close_connection = True
            raise LinkError(400, "malformed", "body shorter than its Content-Length")
        return body

    def _object(self, usage: str) -> dict[str, Any]:
        try:
            data = json.loads(self._raw or b"")
        except (ValueError, UnicodeDecodeError) as err:
            raise LinkError(400, "malformed", "body is not JSON") from err
        if not isinstance(data, dict):
            raise LinkError(400, "malformed", usage)
        return data

    def _text_field(self, key: str, usage: str) -> bytes:
        value = self._object(usage).get(key)
        if not isinstance(value, str):
            raise LinkError(400, "malformed", usage)
        return value.encode("utf-8")

    def _drain(self, length: int) -> None:
        """Read and drop a too-large body so the client can read the 413; give up past a cap."""
        self.close_connection = True
        left = min(length, MAX_DRAIN)
        try:
            while left > 0:
                chunk = self.rfile.read(min(left, 64 * 1024))
                if not chunk:
                    return
                left -= len(chunk)
        except (TimeoutError, OSError):
            return

    def _send(self, status: int, body: Any) -> None:
        payload = b"" if body is None else json.dumps(body).encode("utf-8")
        headers = getattr(self, "headers", None)
        origin = headers.get("Origin") if headers is not None else None
        try:
            self.connection.settimeout(self.server.request_timeout_s)  # writes get their own
            self.send_response(status)
            if origin is not None and origin.rstrip("/").lower() in self.server.allowed_origins:
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
                self.send_header("Access-Control-Allow-Headers", "Content-Type")
                self.send_header("Access-Control-Allow-Private-Network", "true")
            self.send_header("Vary", "Origin")
            self.send_header("Cache-Control", "no-store")
            if body is not None:
                self.send_header("Content-Type", JSON)
            self.send_header("Content-Length", str(len(payload)))
            # One request per connection: an idle kept-alive socket would run out its deadline
            # and be closed just as the phone reused it, and a browser does not resend a POST.
            self.close_connection = True
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True
