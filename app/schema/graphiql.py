"""GraphiQL at /graphql, with its scripts and styles served by this server, gzipped.

Strawberry's own page loads React and GraphiQL from a public CDN; on a site network with
no way out it shows "Loading..." forever. app/main.py serves STATIC_DIR at ASSETS_PATH.

The assets weigh 1.5 MB (GraphiQL alone 1 MB) and gzip to 0.64 MB: a
browser that accepts gzip gets each file compressed once, on its first request, and kept
in memory, rather than compressed anew per request as GZipMiddleware would (GraphiQL's
script takes ~0.1 s of CPU at level 9).
"""

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import anyio
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static" / "graphiql"
ASSETS_PATH = "/graphiql"  # graphiql.html names its files under this path
PAGE = (HERE / "graphiql.html").read_text(encoding="utf-8")
GZIP_LEVEL = 9  # paid once per file per process


@dataclass
class _File:
    """One file as it is and gzipped, with an ETag per form."""

    plain: bytes
    media_type: str

    @cached_property
    def gzipped(self) -> bytes:
        return gzip.compress(self.plain, GZIP_LEVEL, mtime=0)

    @cached_property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.plain).hexdigest()[:32] + '"'

    def response(self, request: Request) -> Response:
        wants_gzip = _accepts_gzip(request)
        etag = self.etag[:-1] + ('-gz"' if wants_gzip else '"')
        headers = {"ETag": etag, "Vary": "Accept-Encoding", "Cache-Control": "no-cache"}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        if wants_gzip:
            headers["Content-Encoding"] = "gzip"
        body = self.gzipped if wants_gzip else self.plain
        return Response(body, media_type=self.media_type, headers=headers)


def _accepts_gzip(request: Request) -> bool:
    """gzip named in Accept-Encoding and not refused with q=0."""
    for part in request.headers.get("accept-encoding", "").lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            quality = params.strip().removeprefix("q=").strip()
            return quality not in ("0", "0.0", "0.00", "0.000")
    return False


_PAGE = _File(PAGE.encode(), "text/html; charset=utf-8")


def page(request: Request) -> Response:
    """The GraphiQL page itself, gzipped when the browser accepts it."""
    return _PAGE.response(request)


class Assets:
    """The vendored files, by name only (nothing else in or above STATIC_DIR is reachable)."""

    def __init__(self, directory: Path = STATIC_DIR) -> None:
        self.files = {
            path.name: path
            for path in directory.iterdir()
            if path.is_file() and not path.name.startswith(".")
        }
        self.loaded: dict[str, _File] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        path, mounted_at = scope["path"], scope.get("root_path", "")
        name = path.removeprefix(mounted_at).lstrip("/")  # Mount keeps the full path
        if request.method not in ("GET", "HEAD"):
            response: Response = PlainTextResponse(
                "Method Not Allowed", 405, headers={"Allow": "GET, HEAD"}
            )
        elif name not in self.files:
            response = PlainTextResponse("Not Found", 404)
        else:
            file = self._file(name)
            if _accepts_gzip(request) and "gzipped" not in file.__dict__:
                await anyio.to_thread.run_sync(lambda: file.gzipped)  # once, off the loop
            response = file.response(request)
        await response(scope, receive, send)

    def _file(self, name: str) -> _File:
        if name not in self.loaded:
            media_type = mimetypes.guess_type(name)[0] or "text/plain"
            if media_type.startswith("text/"):
                media_type += "; charset=utf-8"
            self.loaded[name] = _File(self.files[name].read_bytes(), media_type)
        return self.loaded[name]


def assets() -> Assets:
    return Assets(STATIC_DIR)
