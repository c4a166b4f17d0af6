"""/app/wallet and the files the phone runs without the server: plain HTML and JavaScript.

NiceGUI's pages need their websocket, and a parking garage has no signal: the wallet is a
static page that a service worker keeps on the phone. Its scope is /app/wallet (the
`Service-Worker-Allowed` header lets the worker under /app/wallet/ claim the page itself),
so it never stands between the driver and the live pages.
"""

from pathlib import Path

from nicegui import app
from starlette.requests import Request
from starlette.responses import FileResponse, Response

PHONE = Path(__file__).parent / "phone"
PATH = "/app/wallet"
SCOPE = PATH
JAVASCRIPT = "text/javascript; charset=utf-8"
FILES = {  # name under /app/wallet/ -> content type
    "held.js": JAVASCRIPT,
    "link.js": JAVASCRIPT,
    "wallet.js": JAVASCRIPT,
    "wallet.css": "text/css; charset=utf-8",
    "sw.js": JAVASCRIPT,
}
# The wallet loads only from this server; its script may reach any charger's link.
POLICY = (
    "default-src 'self'; img-src 'self' data:; connect-src 'self' http: https:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# The worker refreshes its copy whenever the server answers: browsers revalidate, not keep.
FRESH = {"Cache-Control": "no-cache"}


def register() -> None:
    """Once per process, on NiceGUI's app: plain routes beside the pages."""
    app.add_route(PATH, wallet_page, methods=["GET"])
    app.add_route(PATH + "/{name}", wallet_file, methods=["GET"])


async def wallet_page(_: Request) -> Response:
    headers = {**FRESH, "Content-Security-Policy": POLICY}
    return FileResponse(
        PHONE / "wallet.html", media_type="text/html; charset=utf-8", headers=headers
    )


async def wallet_file(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in FILES:  # a fixed list: nothing else in the folder is served
        return Response("Not found", status_code=404, media_type="text/plain")
    headers = dict(FRESH)
    if name == "sw.js":
        headers["Service-Worker-Allowed"] = SCOPE
    return FileResponse(PHONE / name, media_type=FILES[name], headers=headers)
