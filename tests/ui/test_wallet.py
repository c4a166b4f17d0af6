"""The wallet is plain files the phone keeps: served with the right types, the worker's
scope, and nothing from any host but this server."""

import re

import httpx
import pytest

from app.main import create_app
from app.services.container import Services


@pytest.fixture
async def client(services: Services) -> httpx.AsyncClient:
    app = create_app(services=services)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        yield client


async def test_the_wallet_page_is_plain_html_that_needs_no_sign_in(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/app/wallet")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "x-nicegui-content" not in page.headers  # no websocket needed
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "Wallet" in page.text


async def test_the_service_worker_may_claim_the_wallet_and_nothing_else(
    client: httpx.AsyncClient,
) -> None:
    worker = await client.get("/app/wallet/sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"] == "text/javascript; charset=utf-8"
    assert worker.headers["service-worker-allowed"] == "/app/wallet"
    held = (await client.get("/app/wallet/held.js")).text  # loaded by /app and the wallet
    assert 'register("/app/wallet/sw.js", { scope: "/app/wallet" })' in held
    for cached in re.findall(r'"(/app/wallet[^"]*)"', worker.text):  # what it keeps offline
        answer = await client.get(cached)
        assert answer.status_code == 200, cached


async def test_the_wallets_files_load_from_this_server_only(client: httpx.AsyncClient) -> None:
    html = (await client.get("/app/wallet")).text
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    for name in ("wallet.css", "held.js", "link.js", "wallet.js"):
        assert f'"/app/wallet/{name}"' in html
        answer = await client.get(f"/app/wallet/{name}")
        assert answer.status_code == 200
        assert not re.search(r"https?://", answer.text), name
        expected = "text/css" if name.endswith(".css") else "text/javascript"
        assert answer.headers["content-type"].startswith(expected)


async def test_only_the_wallets_own_files_are_served(client: httpx.AsyncClient) -> None:
    for name in ("wallet.html", "..%2Fwallet.py", "nothing.js"):
        assert (await client.get(f"/app/wallet/{name}")).status_code == 404
