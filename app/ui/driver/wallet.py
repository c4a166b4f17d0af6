"""/app/wallet and the files the phone runs without the server: plain HTML and JavaScript.

NiceGUI's pages need their websocket, and a parking garage has no signal: the wallet is a
static page that a service worker keeps on the phone. Its scope is /app/wallet (the
`Service-Worker-Allowed` header lets the worker under /app/wallet/ claim the page itself),
so it never stands between the driver and the live pages.

The wallet has no session and may have no network, so it cannot ask the server for its
words in the driver's language: /app/wallet/words.js carries them in every language the
catalog has (a few hundred bytes each), cached with the page; wallet.js picks the language
the driver's pages last spoke on this phone (app/ui/language.py leaves it in localStorage),
else the browser's. One catalog, no second copy of the words to keep in step.
"""

import json
from pathlib import Path

from nicegui import app
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from app.ui import i18n
from app.ui.i18n import N_

PHONE = Path(__file__).parent / "phone"
PATH = "/app/wallet"
SCOPE = PATH
JAVASCRIPT = "text/javascript; charset=utf-8"
FILES = {  # name under /app/wallet/ -> content type
    "words.js": JAVASCRIPT,
    "held.js": JAVASCRIPT,
    "link.js": JAVASCRIPT,
    "wallet.js": JAVASCRIPT,
    "wallet.css": "text/css; charset=utf-8",
    "sw.js": JAVASCRIPT,
}
# The wallet page's words, by the key wallet.js knows them by.
WORDS = {
    "title": N_("Wallet"),
    "charging": N_("Charging"),
    "hint": N_(
        "Your permits stay on this phone: show a QR code to the charger, even without signal."
    ),
    "empty": N_("No permits on this phone yet. Open a permit in the app once while online."),
    "qr": N_("Permit QR code"),
    "send": N_("Send to charger"),
    "accepted": N_("The charger accepted the permit."),
    "unreachable": N_("The charger did not answer: are you next to it, on its network?"),
    "refused": N_("The charger refused the permit ({reason})."),
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
    if name == "words.js":
        return Response(words_script(), media_type=JAVASCRIPT, headers=FRESH)
    headers = dict(FRESH)
    if name == "sw.js":
        headers["Service-Worker-Allowed"] = SCOPE
    return FileResponse(PHONE / name, media_type=FILES[name], headers=headers)


def words_script() -> str:
    """The wallet's words in every language, from the catalog, as a script wallet.js reads."""
    words = {
        language: {key: i18n.translate(text, language) for key, text in WORDS.items()}
        for language in i18n.CATALOGS
    }
    return f"window.powerpermitWords = {json.dumps(words, ensure_ascii=False)};\n"
