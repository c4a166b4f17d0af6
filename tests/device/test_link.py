"""The local link over real HTTP: what a phone's browser sees, and what garbage gets back."""

import base64
import contextlib
import socket
import threading
import time

import httpx
import pytest

from device.link import MAX_CONNECTIONS, LinkServer
from device.protocol.keys import b64url, b64url_decode
from device.protocol.receipt import read_receipt
from device.protocol.text import to_text
from tests.device.conftest import LINK_HOST, ORIGIN, T0, Rig, Server, serve

CBOR = {"Content-Type": "application/cbor"}
HANG_GUARD_S = 30  # only ever reached when the link misbehaves


def test_a_phone_charges_a_car_over_the_link(http: httpx.Client, rig: Rig, server: Server) -> None:
    info = http.get("/link/info").json()
    assert (info["device_id"], info["state"], info["relay"]) == ("charger-1", "idle", "open")
    permit = server.permit(T0, minutes=30)
    response = http.post("/link/permit", json={"permit": to_text(permit)})
    assert response.status_code == 200 and response.json()["accepted"]
    holder = response.json()["holder"]
    plugged = http.post("/link/vehicle", json={"plugged": True, "soc": 0.5, "max_power_w": 7400})
    assert plugged.json()["relay"] == "closed"
    rig.clock.advance(600)
    stopped = http.post("/link/stop", json={"holder": holder}).json()
    assert stopped["stopped"] and stopped["relay"] == "open"
    [item] = http.get("/link/receipts").json()["receipts"]
    receipt = read_receipt(
        base64.urlsafe_b64decode(item["token"] + "=="), rig.config.key.public_key
    )
    assert receipt.stop_reason == "user_stop" and receipt.energy_wh == pytest.approx(7400 / 6)
    ack = b64url(server.acknowledge(b64url_decode(item["token"])))
    assert http.post("/link/receipts/ack", json={"acknowledgement": ack}).json() == {
        "acknowledged": 1
    }
    assert http.get("/link/receipts").json() == {"receipts": []}


def test_the_server_token_form_and_raw_cbor_are_accepted_too(
    http: httpx.Client, server: Server
) -> None:
    token = b64url(server.permit(T0))
    assert http.post("/link/permit", json={"permit": token}).json()["accepted"]
    raw = server.permit(T0, device_id="charger-9")
    assert http.post("/link/permit", content=raw, headers=CBOR).json()["reason"] == "wrong_device"


def test_refusals_carry_the_reason(http: httpx.Client, server: Server) -> None:
    response = http.post(
        "/link/permit", content=server.permit(T0, device_id="charger-9"), headers=CBOR
    )
    assert response.status_code == 403
    assert response.json()["reason"] == "wrong_device"
    garbage = http.post("/link/permit", content=b"\xff\x00garbage", headers=CBOR)
    assert (garbage.status_code, garbage.json()["reason"]) == (400, "malformed")


def test_revocations_over_the_link_stop_the_session(
    http: httpx.Client, rig: Rig, server: Server
) -> None:
    permit = server.permit(T0)
    http.post("/link/permit", content=permit, headers=CBOR)
    http.post("/link/vehicle", json={"plugged": True})
    revocations = {"revocations": b64url(server.revoke(permit))}
    assert http.post("/link/revocations", json=revocations).json()["accepted"]
    info = http.get("/link/info").json()
    assert (info["relay"], info["revocation_sequence"]) == ("open", 1)
    assert info["last_stop"]["reason"] == "revoked"
    again = http.post("/link/revocations", json=revocations)
    assert (again.status_code, again.json()["reason"]) == (403, "superseded")


def test_cors_answers_the_allowed_origin_only(http: httpx.Client) -> None:
    preflight = http.options(
        "/link/permit",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    allowed = http.get("/link/info", headers={"Origin": ORIGIN})
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "access-control-allow-origin" not in http.get("/link/info").headers


# -- a web page the phone visits must not command the charger (issue 7) ------------------------

SIMPLE_TYPES = [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
POSTS = ["/link/permit", "/link/vehicle", "/link/stop", "/link/revocations", "/link/receipts/ack"]


@pytest.mark.parametrize("content_type", SIMPLE_TYPES)
@pytest.mark.parametrize("path", POSTS)
def test_content_types_a_page_sends_without_preflight_are_refused(
    http: httpx.Client, rig: Rig, server: Server, path: str, content_type: str | None
) -> None:
    permit = server.permit(T0)
    bodies = {"/link/permit": to_text(permit).encode(), "/link/vehicle": b'{"plugged": true}'}
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = http.post(path, content=bodies.get(path, b"{}"), headers=headers)
    assert (response.status_code, response.json()["reason"]) == (415, "unsupported_media_type")
    assert rig.charger.session is None and rig.charger.battery is None


def test_json_permit_route_is_cbor_or_json_only(http: httpx.Client, server: Server) -> None:
    refused = http.post("/link/stop", content=b"\xa0", headers=CBOR)
    assert refused.status_code == 415
    answer = http.post(
        "/link/permit",
        content=b'{"permit": "' + to_text(server.permit(T0)).encode() + b'"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert answer.json()["accepted"]


@pytest.mark.parametrize("origin", ["https://evil.example", "null", ORIGIN + ".evil.example"])
def test_a_foreign_origin_is_refused_everywhere_and_gets_no_cors(
    http: httpx.Client, rig: Rig, server: Server, origin: str
) -> None:
    headers = {"Origin": origin}
    preflight = http.options(
        "/link/permit", headers={**headers, "Access-Control-Request-Method": "POST"}
    )
    permit = http.post("/link/permit", json={"permit": to_text(server.permit(T0))}, headers=headers)
    info = http.get("/link/info", headers=headers)
    for response in (preflight, permit, info):
        assert (response.status_code, response.json()["reason"]) == (403, "forbidden_origin")
        assert "access-control-allow-origin" not in response.headers
    assert rig.charger.session is None


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8410", "", "charger-1.local.evil"])
def test_dns_rebinding_finds_no_host_to_answer(link: LinkServer, host: str) -> None:
    """A name the attacker controls, rebound to the charger's address, is not the charger's."""
    status, body = raw_request(link, f"GET /link/info HTTP/1.1\r\nHost: {host}\r\n\r\n")
    assert (status, body["reason"]) == (403, "forbidden_host")


@pytest.mark.parametrize("host", ["127.0.0.1:1", "localhost", "LINK", "[::1]:8410"])
def test_ip_literals_localhost_and_configured_names_are_answered(
    link: LinkServer, host: str
) -> None:
    host = host.replace("LINK", LINK_HOST.upper())
    status, body = raw_request(link, f"GET /link/info HTTP/1.1\r\nHost: {host}\r\n\r\n")
    assert status == 200 and body["device_id"] == "charger-1"


def test_the_plug_takes_no_word_from_a_web_page_even_the_allowed_one(
    http: httpx.Client, rig: Rig
) -> None:
    response = http.post("/link/vehicle", json={"plugged": True}, headers={"Origin": ORIGIN})
    assert (response.status_code, response.json()["reason"]) == (403, "forbidden_origin")
    assert rig.charger.battery is None


def test_stopping_over_the_link_needs_the_holder(
    http: httpx.Client, rig: Rig, server: Server
) -> None:
    permit = server.permit(T0)
    holder = http.post("/link/permit", content=permit, headers=CBOR).json()["holder"]
    http.post("/link/vehicle", json={"plugged": True})
    assert http.post("/link/stop", json={}).json()["reason"] == "malformed"
    guessed = http.post("/link/stop", json={"holder": "AAAAAAAAAAAAAAAAAAAAAA"})
    assert (guessed.status_code, guessed.json()["reason"]) == (403, "not_holder")
    assert rig.charger.relay_closed
    assert http.post("/link/stop", json={"holder": holder}).json()["stopped"]
    assert not rig.charger.relay_closed


def test_receipts_leave_only_against_a_signed_acknowledgement(
    http: httpx.Client, rig: Rig, server: Server
) -> None:
    permit = server.permit(T0)
    http.post("/link/permit", content=permit, headers=CBOR)
    http.post("/link/stop", json={"permit": b64url(permit)})
    [item] = http.get("/link/receipts").json()["receipts"]
    by_counter = http.post("/link/receipts/ack", json={"counters": [item["counter"]]})
    assert by_counter.status_code == 400
    forged = b64url(server.acknowledge(b64url_decode(item["token"]), key=Server().key))
    refused = http.post("/link/receipts/ack", json={"acknowledgement": forged})
    assert (refused.status_code, refused.json()["reason"]) == (403, "unknown_key")
    assert len(http.get("/link/receipts").json()["receipts"]) == 1


def raw_request(link: LinkServer, request: str) -> tuple[int, dict]:
    import json

    host, port = link.server_address[:2]
    with socket.create_connection((str(host), port), timeout=HANG_GUARD_S) as sock:
        sock.sendall(request.encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += sock.recv(4096)
        head, body = reply.split(b"\r\n\r\n", 1)
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        while len(body) < length:
            body += sock.recv(4096)
    return int(head.split(b" ")[1]), json.loads(body)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "reason"),
    [
        ("GET", "/nowhere", None, 404, "not_found"),
        ("POST", "/link/vehicle", b"{not json", 400, "malformed"),
        ("POST", "/link/vehicle", b'{"plugged": "yes"}', 400, "malformed"),
        ("POST", "/link/vehicle", b'{"plugged": true, "soc": 7}', 400, "malformed"),
        ("POST", "/link/receipts/ack", b'{"acknowledgement": 7}', 400, "malformed"),
        ("POST", "/link/receipts/ack", b'{"acknowledgement": "AAAA"}', 400, "malformed"),
        ("POST", "/link/revocations", b"\x00", 400, "malformed"),
        ("POST", "/link/revocations", b'{"revocations": "AA"}', 400, "malformed"),
        ("POST", "/link/permit", b'["PP1:"]', 400, "malformed"),
        ("PUT", "/link/permit", b"x", 501, "method_not_allowed"),
    ],
)
def test_garbage_gets_a_4xx_with_a_reason(http, method, path, body, status, reason) -> None:
    response = http.request(
        method, path, content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status
    assert response.json()["reason"] == reason
    assert http.get("/link/info").status_code == 200


def test_a_10_mb_body_is_refused_and_the_device_keeps_running(http: httpx.Client) -> None:
    response = http.post("/link/permit", content=b"\x00" * (10 * 1024 * 1024), headers=CBOR)
    assert (response.status_code, response.json()["reason"]) == (413, "too_large")
    assert http.get("/link/info").json()["state"] == "idle"


def test_a_lying_content_length_is_dropped_not_waited_for(link: LinkServer) -> None:
    host, port = link.server_address[:2]
    with socket.create_connection((str(host), port), timeout=5) as sock:
        sock.sendall(
            b"POST /link/permit HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/cbor"
            b"\r\nContent-Length: 1000\r\n\r\nPP1:"
        )
        reply = sock.recv(4096)  # the server times out the body after 0.5 s
    assert b" 408 " in reply.split(b"\r\n", 1)[0]


def test_every_answer_closes_its_connection(http: httpx.Client) -> None:
    """A kept-alive socket would time out idle and close under a phone about to reuse it."""
    for _ in range(2):
        response = http.get("/link/info")
        assert response.status_code == 200
        assert response.headers["connection"] == "close"


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


# -- slow clients (issue 7): one deadline per request, and the longest waiter gives way ---------


def trickle(link: LinkServer, count: int, stop: threading.Event) -> list[socket.socket]:
    """`count` sockets that each send a request line, then one header line now and then."""
    host, port = link.server_address[:2]
    socks = [
        socket.create_connection((str(host), port), timeout=HANG_GUARD_S) for _ in range(count)
    ]
    for sock in socks:
        sock.sendall(b"GET /link/info HTTP/1.1\r\nHost: localhost\r\n")

    def keep_trickling() -> None:
        while not stop.wait(0.1):
            for sock in socks:
                with contextlib.suppress(OSError):  # the link dropped it: that is the point
                    sock.sendall(b"X-Slow: 1\r\n")

    threading.Thread(target=keep_trickling, daemon=True).start()
    return socks


def test_trickling_sockets_filling_every_slot_do_not_lock_out_a_driver(rig: Rig) -> None:
    # A deadline far beyond the test: only giving way, not timing out, can serve the driver.
    link = serve(rig, request_timeout_s=HANG_GUARD_S * 10)
    stop = threading.Event()
    socks = trickle(link, MAX_CONNECTIONS + 8, stop)
    try:
        with httpx.Client(base_url=link.url, timeout=HANG_GUARD_S) as driver:
            for _ in range(3):
                assert driver.get("/link/info").json()["device_id"] == "charger-1"
    finally:
        stop.set()
        for sock in socks:
            sock.close()
        link.shutdown()
        link.server_close()


def test_a_request_trickled_in_never_outlives_its_deadline(link: LinkServer) -> None:
    """Each header line arrives well within any per-read timeout; the request as a whole is
    still cut off (the fixture's deadline is 0.5 s). The guard stays under the 10 s the
    stdlib's 100-header limit would take at this pace, so only a deadline passes."""
    stop = threading.Event()
    [sock] = trickle(link, 1, stop)
    guard = time.monotonic() + 8
    try:
        sock.settimeout(HANG_GUARD_S)
        while time.monotonic() < guard:
            if sock.recv(4096) == b"":
                break  # the link closed it
        else:
            pytest.fail("a trickled request was served for the whole hang guard")
    finally:
        stop.set()
        sock.close()
