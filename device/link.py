"""The local link: HTTP on the device's local address, standing in for BLE/NFC.

A small threaded stdlib server: no dependency beyond the standard library, bounded bodies,
a socket timeout per connection (slow clients are dropped, not waited for), a cap on
concurrent connections, CORS for the server's origin, and a JSON reason on every refusal.
"""

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from device.battery import Battery
from device.protocol.errors import Malformed
from device.runtime import Charger

DEFAULT_PORT = 8410
DEFAULT_ORIGIN = "http://127.0.0.1:8000"
MAX_BODY = 64 * 1024
MAX_DRAIN = 16 * 1024 * 1024
MAX_CONNECTIONS = 32


class LinkError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


class LinkServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        charger: Charger,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        origin: str = DEFAULT_ORIGIN,
        timeout_s: float = 10.0,
    ) -> None:
        self.charger, self.origin, self.timeout_s = charger, origin, timeout_s
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__((host, port), LinkHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # too many open connections: drop the newest
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class LinkHandler(BaseHTTPRequestHandler):
    server: LinkServer
    protocol_version = "HTTP/1.1"
    server_version = "PowerPermitDevice/0.1"

    def setup(self) -> None:
        self.request.settimeout(self.server.timeout_s)
        super().setup()

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
        self._send(204, None)

    def do_GET(self) -> None:
        self._dispatch({"/link/info": self._info, "/link/receipts": self._receipts})

    def do_POST(self) -> None:
        self._dispatch(
            {
                "/link/permit": self._permit,
                "/link/vehicle": self._vehicle,
                "/link/stop": self._stop,
                "/link/revocations": self._revocations,
                "/link/receipts/ack": self._ack,
            }
        )

    # -- routes ------------------------------------------------------------------------------

    def _info(self) -> tuple[int, Any]:
        return 200, self.server.charger.info()

    def _receipts(self) -> tuple[int, Any]:
        return 200, {"receipts": self.server.charger.receipts()}

    def _permit(self) -> tuple[int, Any]:
        decision = self.server.charger.present_permit(self._body())
        status = {None: 200, "malformed": 400, "too_large": 413}.get(decision.reason, 403)
        return status, decision.to_json()

    def _vehicle(self) -> tuple[int, Any]:
        data = self._json()
        if not isinstance(data, dict) or not isinstance(data.get("plugged"), bool):
            raise LinkError(400, "malformed", 'send {"plugged": true|false, ...}')
        try:
            battery = Battery.from_json(data) if data["plugged"] else None
        except Malformed as err:
            raise LinkError(400, "malformed", str(err)) from err
        self.server.charger.set_vehicle(battery)
        return 200, self.server.charger.info()

    def _stop(self) -> tuple[int, Any]:
        self._body()
        stopped = self.server.charger.stop()
        return 200, {"stopped": stopped, **self.server.charger.info()}

    def _revocations(self) -> tuple[int, Any]:
        result = self.server.charger.apply_revocations(self._body())
        if result["accepted"]:
            return 200, result
        return {"malformed": 400, "too_large": 413}.get(result["reason"], 403), result

    def _ack(self) -> tuple[int, Any]:
        data = self._json()
        counters = data.get("counters") if isinstance(data, dict) else None
        if not isinstance(counters, list) or not all(
            isinstance(c, int) and not isinstance(c, bool) for c in counters
        ):
            raise LinkError(400, "malformed", 'send {"counters": [1, 2, ...]}')
        return 200, {"acknowledged": self.server.charger.ack_receipts(counters)}

    # -- plumbing ----------------------------------------------------------------------------

    def _dispatch(self, routes: dict[str, Callable[[], tuple[int, Any]]]) -> None:
        path = self.path.split("?", 1)[0]
        try:
            route = routes.get(path)
            if route is None:
                raise LinkError(404, "not_found", f"no route {self.command} {path}")
            status, body = route()
        except LinkError as err:
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

    def _json(self) -> Any:
        try:
            return json.loads(self._body() or b"{}")
        except (ValueError, UnicodeDecodeError) as err:
            raise LinkError(400, "malformed", "body is not JSON") from err

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
        try:
            self.send_response(status)
            self.send_header("Access-Control-Allow-Origin", self.server.origin)
            self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
            self.send_header("Access-Control-Allow-Headers", "Content-Type")
            self.send_header("Access-Control-Allow-Private-Network", "true")
            self.send_header("Vary", "Origin")
            self.send_header("Cache-Control", "no-store")
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True
