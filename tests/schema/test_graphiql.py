"""GraphiQL at /graphql loads everything from this server: a site network without a way
out shows the editor, not "Loading..." forever. (tests/e2e renders it in a real browser with
every other host blocked.)"""

from html.parser import HTMLParser

import httpx
import pytest

from app.main import create_app
from app.schema.graphiql import STATIC_DIR
from app.services.container import Services

CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css"}


class _Assets(HTMLParser):
    """Every URL a script or stylesheet tag names."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("src", "href"):
            if tag in ("script", "link") and found.get(name):
                self.urls.append(str(found[name]))


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)  # no database involved
async def test_the_graphiql_page_names_only_assets_this_server_serves(
    services: Services,
) -> None:
    transport = httpx.ASGITransport(app=create_app(services=services))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "unpkg" not in page.text and "cdn" not in page.text.lower()
        parser = _Assets()
        parser.feed(page.text)
        scripts = [url for url in parser.urls if url.endswith(".js")]
        assert len(scripts) >= 3, parser.urls  # react, react-dom, graphiql at least
        for url in parser.urls:
            if url.startswith("data:"):
                continue
            # a path on this server: no scheme, no host, no protocol-relative //host
            assert url.startswith("/") and not url.startswith("//"), url
            asset = await client.get(url)
            assert asset.status_code == 200, url
            suffix = url[url.rfind(".") :]
            assert asset.headers["content-type"].startswith(CONTENT_TYPES[suffix]), url
            assert asset.content == (STATIC_DIR / url.rsplit("/", 1)[1]).read_bytes()


def test_every_vendored_file_comes_with_its_licence() -> None:
    names = {path.name for path in STATIC_DIR.iterdir()}
    for package in ("graphiql", "react", "react-dom", "plugin-explorer"):
        assert f"LICENSE.{package}" in names
    total = sum(path.stat().st_size for path in STATIC_DIR.iterdir())
    assert total < 2_000_000, total  # a bound on what the repository carries
