"""A page that fails while it is built shows the request id, never the exception: a
store's error message holds its SQL. A manager signs in, then the store loses a table
under the running app (as a botched manual repair would), and the queue page fails."""

from typing import Any

from app.services.container import Services
from tests.ui.conftest import SLOW, Person, sign_in


async def test_a_failing_page_shows_its_request_id_and_no_internals(
    person: Person, demo: dict[str, Any], services: Services
) -> None:
    manager = person()
    await sign_in(manager, demo["manager"]["login"], demo["manager"]["password"], "/manage")
    await manager.should_see("Waiting for a manager: 0", retries=SLOW)
    with services.db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE usage_requests")

    response = await manager.http_client.get("/manage", headers={"X-Request-ID": "page-9"})

    assert response.status_code == 500
    assert response.headers["x-request-id"] == "page-9"
    assert "Request ID: page-9" in response.text
    for internal in ("OperationalError", "no such table", "SELECT", "Traceback", ".py"):
        assert internal not in response.text, internal
