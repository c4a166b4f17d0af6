"""GraphiQL at /graphql, with its scripts and styles served by this server.

Strawberry's own page loads React and GraphiQL from a public CDN; on a site network with
no way out it shows "Loading..." forever. app/main.py serves STATIC_DIR at ASSETS_PATH.
"""

from pathlib import Path

from starlette.staticfiles import StaticFiles

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static" / "graphiql"
ASSETS_PATH = "/graphiql"  # graphiql.html names its files under this path
PAGE = (HERE / "graphiql.html").read_text(encoding="utf-8")


def assets() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)
