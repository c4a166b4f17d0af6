"""Two `powerpermit serve` processes on one PostgreSQL database, one data directory: an
access token issued by one is good at the other (one key set, made once), and revoked at
one it is refused by the other within a second."""

import json
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.auth.live_oauth import ME
from tests.cluster.cluster import Cluster, cluster, cluster_env
from tests.http.live import ROOT, powerpermit

WITHIN_S = 1.0


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with cluster(tmp_path_factory.mktemp("oauth-two-processes")) as running:
        yield running


def create_client(two_servers: Cluster) -> tuple[str, str]:
    env = cluster_env(two_servers.data_dir, two_servers.database, two_servers.bus)
    args = ["client", "create", "--name", f"Fleet {time.monotonic_ns()}", "--site", "site-1"]
    done = subprocess.run(
        powerpermit(*args, "--scopes", "requests:read", "--json"),
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    return created["client_id"], created["client_secret"]


def accepted(base_url: str, token: str) -> bool:
    answer = httpx.post(
        f"{base_url}/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {token}"}
    )
    if answer.status_code == 401:
        return False
    assert answer.status_code == 200 and answer.json()["data"]["me"], answer.text
    return True


def refused_within(base_url: str, token: str) -> float:
    began = time.monotonic()
    while time.monotonic() - began < WITHIN_S + 2:
        if not accepted(base_url, token):
            return time.monotonic() - began
        time.sleep(0.02)
    pytest.fail(f"{base_url} still accepts the token {WITHIN_S + 2:.0f} s later")


def test_a_token_revoked_at_one_process_is_refused_by_the_other_within_a_second(
    two_servers: Cluster,
) -> None:
    one, other = (two_servers.live(i).base_url for i in (0, 1))
    auth = create_client(two_servers)
    token = httpx.post(
        f"{one}/oauth/token", data={"grant_type": "client_credentials"}, auth=auth
    ).json()["access_token"]
    assert accepted(one, token) and accepted(other, token)  # one key set for both
    revoked = httpx.post(f"{one}/oauth/revoke", data={"token": token}, auth=auth)
    assert revoked.status_code == 200
    assert not accepted(one, token)  # at once where it was revoked
    assert refused_within(other, token) <= WITHIN_S


def test_a_revoked_client_is_refused_by_every_process_within_a_second(
    two_servers: Cluster,
) -> None:
    one, other = (two_servers.live(i).base_url for i in (0, 1))
    client_id, secret = create_client(two_servers)
    token = httpx.post(
        f"{other}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    ).json()["access_token"]
    assert accepted(one, token) and accepted(other, token)
    env = cluster_env(two_servers.data_dir, two_servers.database, two_servers.bus)
    done = subprocess.run(
        powerpermit("client", "revoke", client_id),
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    began = time.monotonic()
    for base_url in (one, other):
        refused_within(base_url, token)
    assert time.monotonic() - began <= WITHIN_S + 0.5  # both within about a second
