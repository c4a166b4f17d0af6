"""`powerpermit serve` that SIGKILLs itself right after its Nth GraphQL answer has been sent.

The crash test's known point: exactly N answers have left the server (the kernel still
delivers what was written before the kill), while other requests are inside it, some in
the middle of a commit. Run as `python -m tests.http.sigkill_server PORT N`.
"""

import os
import signal
import sys
from typing import Any

import uvicorn

from app.main import create_app
from app.settings import Settings

App = Any  # an ASGI application


def sigkill_after(app: App, answers: int) -> App:
    sent = 0

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/graphql":
            await app(scope, receive, send)
            return

        async def send_then_die_at_the_last(message: dict[str, Any]) -> None:
            nonlocal sent
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                sent += 1
                if sent == answers:
                    os.kill(os.getpid(), signal.SIGKILL)

        await app(scope, receive, send_then_die_at_the_last)

    return wrapped


def main() -> None:
    port, answers = int(sys.argv[1]), int(sys.argv[2])
    app = sigkill_after(create_app(Settings.from_env()), answers)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
