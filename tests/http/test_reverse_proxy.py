"""docs/deploy.md's nginx configuration, run as written in front of two real servers on
one PostgreSQL database: GraphQL and its websocket subscriptions through the proxy hear
decisions made on either process, the pages and their socket.io path pass, the probes
and metrics are closed to the outside, and nginx's request id reaches the servers."""

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.cluster.cluster import Cluster, cluster, watched_request
from tests.http.live import LiveServer, free_port, gql, soon
from tests.http.test_subscriptions import APPROVE

DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def nginx_block(doc: Path) -> str:
    """The ```nginx block of the deploy guide, exactly as an operator would copy it."""
    found = re.search(r"```nginx\n(.*?)```", doc.read_text(), re.S)
    assert found, "docs/deploy.md has no nginx example"
    return found.group(1)


def runnable(block: str, listen: int, upstreams: list[int], work: Path) -> str:
    """The guide's block with loopback addresses for its hosts and its TLS listener, inside
    the few lines a whole nginx.conf needs. Nothing else of it is changed."""
    servers = "".join(f"    server 127.0.0.1:{port};\n" for port in upstreams)
    block = re.sub(r"(    server 10\.0\.0\.\d+:8000[^;]*;\n)+", servers, block)
    block = block.replace("listen 443 ssl;", f"listen 127.0.0.1:{listen};")
    temp = "".join(
        f"    {kind}_temp_path {work / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"daemon off;\nmaster_process off;\npid {work / 'nginx.pid'};\n"
        f"error_log {work / 'error.log'} info;\nevents {{}}\nhttp {{\n"
        f"    access_log {work / 'access.log'};\n{temp}{block}}}\n"
    )


@dataclass
class Proxied:
    url: str
    ws_url: str
    cluster: Cluster


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        reason = "nginx is not installed (apt-get install nginx-light)"
        if os.environ.get("CI"):
            pytest.fail(f"CI installs nginx (.ci/run), yet: {reason}")
        pytest.skip(reason)
    with cluster(tmp_path_factory.mktemp("proxied")) as running:
        work = tmp_path_factory.mktemp("nginx")
        port = free_port()
        config = work / "nginx.conf"
        upstreams = [server.port for server in running.servers]
        config.write_text(runnable(nginx_block(DOC), port, upstreams, work))
        checked = subprocess.run([nginx, "-t", "-c", str(config)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        proc = subprocess.Popen([nginx, "-c", str(config)], stderr=subprocess.PIPE)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    httpx.get(f"{url}/graphiql/graphiql.min.css", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            yield Proxied(url, f"ws://127.0.0.1:{port}/graphql", running)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def through(proxied: Proxied) -> LiveServer:
    """The cluster's accounts and chargers, reached through the proxy."""
    direct = proxied.cluster.live(0)
    return LiveServer(
        proxied.url, proxied.ws_url, direct.tokens, direct.devices, direct.site, direct.data_dir
    )


async def test_subscriptions_through_the_proxy_hear_decisions_made_on_either_process(
    proxied: Proxied,
) -> None:
    proxy = through(proxied)
    async with httpx.AsyncClient(timeout=30) as client:
        for index in (0, 1):
            starts_at = soon(hours=3 + index)
            async with watched_request(client, proxy, proxy, starts_at, device=index) as watched:
                # Decided on process `index` directly: the socket sits on one of the two.
                decider = proxied.cluster.live(index)
                await gql(client, decider, APPROVE, {"id": watched.id}, who="manager")
                assert (await watched.next())["status"] == "APPROVED"


async def test_pages_and_their_socket_pass_the_proxy(proxied: Proxied) -> None:
    async with httpx.AsyncClient(base_url=proxied.url, timeout=10) as client:
        page = await client.get("/manage", follow_redirects=True)
        assert page.status_code == 200 and "Sign in" in page.text
        assert (await client.get("/graphiql/graphiql.min.css")).status_code == 200
    socket_io = proxied.ws_url.replace(
        "/graphql", "/_nicegui_ws/socket.io/?EIO=4&transport=websocket"
    )
    async with connect(socket_io, open_timeout=10) as connection:
        opened = await connection.recv()
        assert str(opened).startswith("0{"), opened  # engine.io's open packet


async def test_probes_and_metrics_are_closed_outside_and_open_inside(proxied: Proxied) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for path in ("/healthz", "/readyz", "/metrics"):
            assert (await client.get(proxied.url + path)).status_code == 403
            direct = proxied.cluster.live(0).base_url + path
            assert (await client.get(direct)).status_code == 200


async def test_nginx_request_id_reaches_the_server_log(proxied: Proxied) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(f"{proxied.url}/graphql", json={"query": "{ nope }"})
    rid = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid), rid  # nginx's $request_id, kept
    assert response.json()["errors"][0]["extensions"]["requestId"] == rid
    logs = "".join(server.log() for server in proxied.cluster.servers)
    for _ in range(50):
        if rid in logs:
            break
        time.sleep(0.05)
        logs = "".join(server.log() for server in proxied.cluster.servers)
    assert f'"request_id": "{rid}"' in logs
