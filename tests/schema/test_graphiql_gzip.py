"""GraphiQL's page and its 1.5 MB of assets travel gzipped to a browser that accepts gzip,
and as they are to one that does not; both come from this server only (offline too:
tests/e2e opens GraphiQL in a real Chromium with every other host blocked)."""

import gzip
from collections.abc import AsyncIterator

import httpx
import pytest

from app.main import create_app
from app.schema.graphiql import PAGE, STATIC_DIR
from app.services.container import Services

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)  # no database use
ASSETS = ["graphiql.min.js", "graphiql.min.css", "react.production.min.js", "LICENSE.react"]
HTML = {"Accept": "text/html"}


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(services=services))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def raw(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> httpx.Response:
    """The response as sent: httpx would otherwise undo the gzip on its own."""
    async with client.stream("GET", url, headers=headers) as response:
        response._content = b"".join([chunk async for chunk in response.aiter_raw()])
    return response


async def test_the_page_and_its_assets_are_gzipped_for_a_browser_that_accepts_it(
    client: httpx.AsyncClient,
) -> None:
    wanted = {"Accept-Encoding": "gzip, deflate, br"}  # what Chromium sends
    page = await raw(client, "/graphql", HTML | wanted)
    assert page.headers["content-encoding"] == "gzip"
    assert page.headers["content-type"].startswith("text/html")
    assert gzip.decompress(page.content).decode() == PAGE
    for name in ASSETS:
        asset = await raw(client, f"/graphiql/{name}", wanted)
        assert asset.status_code == 200, name
        assert asset.headers["content-encoding"] == "gzip", name
        assert "accept-encoding" in asset.headers["vary"].lower()
        plain = (STATIC_DIR / name).read_bytes()
        assert gzip.decompress(asset.content) == plain
        assert int(asset.headers["content-length"]) == len(asset.content)
        if name == "graphiql.min.js":
            assert len(asset.content) < len(plain) / 2


async def test_without_gzip_or_with_gzip_refused_the_files_come_as_they_are(
    client: httpx.AsyncClient,
) -> None:
    for headers in ({"Accept-Encoding": "identity"}, {"Accept-Encoding": "gzip;q=0, br"}):
        page = await raw(client, "/graphql", HTML | headers)
        assert "content-encoding" not in page.headers
        assert page.content.decode() == PAGE
        asset = await raw(client, "/graphiql/graphiql.min.js", headers)
        assert "content-encoding" not in asset.headers
        assert asset.content == (STATIC_DIR / "graphiql.min.js").read_bytes()
        assert asset.headers["content-type"].startswith("text/javascript")


async def test_a_cached_copy_is_revalidated_per_encoding(client: httpx.AsyncClient) -> None:
    url = "/graphiql/react.production.min.js"
    for encoding in ("gzip", "identity"):
        first = await raw(client, url, {"Accept-Encoding": encoding})
        again = await raw(
            client, url, {"Accept-Encoding": encoding, "If-None-Match": first.headers["etag"]}
        )
        assert again.status_code == 304 and again.content == b""
    zipped = await raw(client, url, {"Accept-Encoding": "gzip"})
    plain = await raw(client, url, {"Accept-Encoding": "identity"})
    assert zipped.headers["etag"] != plain.headers["etag"]


async def test_only_the_vendored_files_are_served(client: httpx.AsyncClient) -> None:
    for url in ("/graphiql/../graphiql.py", "/graphiql/%2e%2e/graphiql.html", "/graphiql/x.js"):
        assert (await client.get(url)).status_code == 404, url
    assert (await client.post("/graphiql/graphiql.min.js")).status_code == 405
