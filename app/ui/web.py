"""NiceGUI's pages as one ASGI app that app/main.py mounts after its own routes.

NiceGUI is one app per process (`nicegui.app`): its pages, middleware and storage secret
can be set up only once. The first `pages_app` call does that, through `ui.run_with` onto
a small shell app; every later call (tests build many apps per process) mounts the same
shell. What differs per app is only its `Services`, which rides in the ASGI scope, so each
app's pages use the services of the app that served them.
"""

import atexit
import os
import secrets
import shutil
import tempfile
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from fastapi import FastAPI
from nicegui import app as nicegui_app
from nicegui import ui
from nicegui.storage import Storage
from starlette.types import Receive, Scope, Send

from app.observability.page_errors import page_error
from app.services.container import Services
from app.ui import pages
from app.ui.scope import SCOPE_KEY

SECRET_FILE = "ui-storage-secret"  # signs the session cookie; a new one signs everyone out
SESSIONS_DIR = "ui-sessions"  # NiceGUI's server-side user storage: bearer tokens live here

_shell: FastAPI | None = None


def pages_app(services: Services, data_dir: Path | None) -> "Pages":
    """The pages, served with these services. `data_dir` holds the storage secret and the
    sessions; None (an app built from given services, as tests do) keeps both in a
    temporary place, so sessions do not outlive the process."""
    global _shell
    if _shell is None:
        _shell = _set_up(data_dir)
    return Pages(_shell, services)


class Pages:
    """The shell, handing its pages these services."""

    def __init__(self, shell: FastAPI, services: Services) -> None:
        self.shell = shell
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[SCOPE_KEY] = self.services
        await self.shell(scope, receive, send)

    def lifespan(self) -> AbstractAsyncContextManager[object]:
        """NiceGUI's start-up and shut-down, to run inside the main app's lifespan."""
        return self.shell.router.lifespan_context(self.shell)


def _set_up(data_dir: Path | None) -> FastAPI:
    if data_dir is None:
        home = Path(tempfile.mkdtemp(prefix="powerpermit-ui-"))
        atexit.register(shutil.rmtree, home, ignore_errors=True)
    else:
        home = data_dir
    Storage.path = _private_dir(home / SESSIONS_DIR)
    pages.register()
    shell = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)  # no API docs pages
    ui.run_with(
        shell,
        title="PowerPermit",
        storage_secret=_storage_secret(home),
        # The cookie only names the server-side session; starlette makes it http-only.
        session_middleware_kwargs={"session_cookie": "powerpermit_session", "same_site": "lax"},
        show_welcome_message=False,
        # Pages update through the event bus and refreshables, not bound attributes: no
        # need for NiceGUI's 10 Hz binding loop on a server that also answers GraphQL.
        binding_refresh_interval=None,
    )
    nicegui_app.on_page_exception(page_error)  # no exception text on a page, its request id
    return shell


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _storage_secret(home: Path) -> str:
    """Read, or create with mode 0600 like the signing key, the secret that signs cookies."""
    path = home / SECRET_FILE
    home.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip()
