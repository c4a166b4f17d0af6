"""Writing a site's policy: the policy columns of its row, nothing else."""

from dataclasses import replace

from sqlalchemy.engine import Connection

from app.domain.model import Policy, Site
from app.store import tables as t
from app.store.repositories import site_row

_NOT_POLICY = ("id", "name", "timezone")


def save_policy(conn: Connection, site: Site, policy: Policy) -> None:
    row = site_row(replace(site, policy=policy))
    values = {column: value for column, value in row.items() if column not in _NOT_POLICY}
    conn.execute(t.sites.update().where(t.sites.c.id == site.id).values(values))
