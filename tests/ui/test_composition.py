"""The pages share the process and port with the API, and never stand in its way."""

import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.main import create_app
from app.services.container import Services
from app.ui.web import SECRET_FILE, SESSIONS_DIR
from tests.http.live import ServerProcess, free_port, prepare

ME = {"query": "{ me { id } }"}


async def test_the_api_routes_answer_ahead_of_the_pages(services: Services) -> None:
    app = create_app(services=services)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        graphql = await client.post("/graphql", json=ME)
        assert graphql.status_code == 200, graphql.text  # not NiceGUI's 307 to /graphql/
        assert graphql.json() == {"data": {"me": None}}
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert "keys" in (await client.get("/.well-known/permit-keys")).json()

        for app_path in ("/manage", "/app"):
            signed_out = await client.get(app_path)
            assert signed_out.status_code == 303
            assert signed_out.headers["location"] == f"/sign-in?next={app_path}"
        sign_in = await client.get("/sign-in")
        assert sign_in.status_code == 200
        assert sign_in.headers["x-nicegui-content"] == "page"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("powerpermit-ui")
    prepare(data_dir)
    process = ServerProcess(data_dir, free_port(), data_dir / "server.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_one_server_process_serves_the_api_and_the_pages(server: ServerProcess) -> None:
    assert httpx.post(server.url("/graphql"), json=ME).json() == {"data": {"me": None}}
    page = httpx.get(server.url("/manage"), follow_redirects=True)
    assert page.status_code == 200
    assert page.url.path == "/sign-in"
    assert "Sign in" in page.text
    cookie = page.history[0].headers["set-cookie"].lower()  # set with the redirect
    assert "powerpermit_session=" in cookie
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_the_storage_secret_and_sessions_are_private_to_the_server(
    server: ServerProcess,
) -> None:
    data_dir = Path(server.data_dir)
    assert stat.S_IMODE((data_dir / SECRET_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE((data_dir / SESSIONS_DIR).stat().st_mode) == 0o700
