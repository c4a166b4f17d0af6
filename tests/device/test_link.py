"""The local link over real HTTP: what a phone's browser sees, and what garbage gets back."""

import base64
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from device.link import LinkServer
from device.protocol.keys import b64url
from device.protocol.receipt import read_receipt
from device.protocol.text import to_text
from tests.device.conftest import T0, Rig, Server

ORIGIN = "https://powerpermit.example"


@pytest.fixture
def link(rig: Rig) -> Iterator[LinkServer]:
    server = LinkServer(rig.charger, "127.0.0.1", 0, origin=ORIGIN, timeout_s=0.5)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def http(link: LinkServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=link.url, timeout=5) as client:
        yield client


def test_a_phone_charges_a_car_over_the_link(http: httpx.Client, rig: Rig, server: Server) -> None:
    info = http.get("/link/info").json()
    assert (info["device_id"], info["state"], info["relay"]) == ("charger-1", "idle", "open")
    permit = server.permit(T0, minutes=30)
    response = http.post("/link/permit", content=to_text(permit))
    assert response.status_code == 200 and response.json()["accepted"]
    plugged = http.post("/link/vehicle", json={"plugged": True, "soc": 0.5, "max_power_w": 7400})
    assert plugged.json()["relay"] == "closed"
    rig.clock.advance(600)
    stopped = http.post("/link/stop").json()
    assert stopped["stopped"] and stopped["relay"] == "open"
    [item] = http.get("/link/receipts").json()["receipts"]
    receipt = read_receipt(
        base64.urlsafe_b64decode(item["token"] + "=="), rig.config.key.public_key
    )
    assert receipt.stop_reason == "user_stop" and receipt.energy_wh == pytest.approx(7400 / 6)
    assert http.post("/link/receipts/ack", json={"counters": [item["counter"]]}).json() == {
        "acknowledged": 1
    }
    assert http.get("/link/receipts").json() == {"receipts": []}


def test_the_server_token_form_is_accepted_too(http: httpx.Client, server: Server) -> None:
    token = b64url(server.permit(T0))
    assert http.post("/link/permit", content=token).json()["accepted"]


def test_refusals_carry_the_reason(http: httpx.Client, server: Server) -> None:
    response = http.post("/link/permit", content=server.permit(T0, device_id="charger-9"))
    assert response.status_code == 403
    assert response.json()["reason"] == "wrong_device"
    garbage = http.post("/link/permit", content=b"\xff\x00garbage")
    assert (garbage.status_code, garbage.json()["reason"]) == (400, "malformed")


def test_revocations_over_the_link_stop_the_session(
    http: httpx.Client, rig: Rig, server: Server
) -> None:
    permit = server.permit(T0)
    http.post("/link/permit", content=permit)
    http.post("/link/vehicle", json={"plugged": True})
    revocations = server.revoke(permit)
    assert http.post("/link/revocations", content=b64url(revocations)).json()["accepted"]
    info = http.get("/link/info").json()
    assert (info["relay"], info["revocation_sequence"]) == ("open", 1)
    assert info["last_stop"]["reason"] == "revoked"
    again = http.post("/link/revocations", content=revocations)
    assert (again.status_code, again.json()["reason"]) == (403, "superseded")


def test_cors_allows_the_server_origin(http: httpx.Client) -> None:
    preflight = http.options(
        "/link/permit",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert http.get("/link/info").headers["access-control-allow-origin"] == ORIGIN


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "reason"),
    [
        ("GET", "/nowhere", None, 404, "not_found"),
        ("POST", "/link/vehicle", b"{not json", 400, "malformed"),
        ("POST", "/link/vehicle", b'{"plugged": "yes"}', 400, "malformed"),
        ("POST", "/link/vehicle", b'{"plugged": true, "soc": 7}', 400, "malformed"),
        ("POST", "/link/receipts/ack", b'{"counters": "all"}', 400, "malformed"),
        ("POST", "/link/revocations", b"\x00", 400, "malformed"),
        ("PUT", "/link/permit", b"x", 501, "method_not_allowed"),
    ],
)
def test_garbage_gets_a_4xx_with_a_reason(http, method, path, body, status, reason) -> None:
    response = http.request(method, path, content=body)
    assert response.status_code == status
    assert response.json()["reason"] == reason
    assert http.get("/link/info").status_code == 200


def test_a_10_mb_body_is_refused_and_the_device_keeps_running(http: httpx.Client) -> None:
    response = http.post("/link/permit", content=b"\x00" * (10 * 1024 * 1024))
    assert (response.status_code, response.json()["reason"]) == (413, "too_large")
    assert http.get("/link/info").json()["state"] == "idle"


def test_a_lying_content_length_is_dropped_not_waited_for(link: LinkServer) -> None:
    host, port = link.server_address[:2]
    with socket.create_connection((str(host), port), timeout=5) as sock:
        sock.sendall(b"POST /link/permit HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nPP1:")
        reply = sock.recv(4096)  # the server times out the body after 0.5 s
    assert b" 408 " in reply.split(b"\r\n", 1)[0]


def test_a_slow_client_does_not_block_others(link: LinkServer, http: httpx.Client) -> None:
    host, port = link.server_address[:2]
    slow = [socket.create_connection((str(host), port), timeout=5) for _ in range(5)]
    for sock in slow:
        sock.sendall(b"GET /link/in")  # never finishes its request line
    assert http.get("/link/info").status_code == 200
    for sock in slow:
        assert sock.recv(4096) == b""  # dropped after the timeout
        sock.close()
    assert http.get("/link/info").status_code == 200


def test_a_malformed_request_line_gets_json(link: LinkServer, http: httpx.Client) -> None:
    host, port = link.server_address[:2]
    for garbage in (b"GET / / HTTP/1.1\r\n\r\n", b"\x16\x03\x01garbage\r\n\r\n"):
        with socket.create_connection((str(host), port), timeout=5) as sock:
            sock.sendall(garbage)
            reply = b"".join(iter(lambda: sock.recv(4096), b""))  # the server closes
        assert b'{"reason": "malformed"' in reply
    assert reply.startswith(b"{")  # no status line: that client spoke no HTTP version
    assert http.get("/link/info").status_code == 200
