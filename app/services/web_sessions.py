"""The end of a web session: the bearer token `login` handed to the page stops working.

Signing in on a page goes through `accounts.login`, which issues a bearer token like any
API client gets; the page keeps it server-side and withdraws it on sign-out, so a
signed-out session leaves no working credential behind.
"""

from sqlalchemy.engine import Connection

from app.services.accounts import hash_token
from app.services.container import Services
from app.store import tables as t


async def withdraw_token(services: Services, token: str) -> None:
    token_hash = hash_token(token)

    def work(conn: Connection) -> None:
        conn.execute(t.api_tokens.delete().where(t.api_tokens.c.token_hash == token_hash))

    await services.db.write(work)
    services.tokens.forget(token_hash)
