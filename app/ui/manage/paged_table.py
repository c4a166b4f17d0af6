"""A console table paged on the server and narrowed by filters: the part the audit log and
the requests page share. A page subclasses it, draws its own filters and table, and says in
`fetch` how to get one page of rows and the total."""

from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from nicegui import events, ui

from app.ui import i18n
from app.ui.i18n import _
from app.ui.manage.console import Console

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Query = TypeVar("Query", bound="DataclassInstance")  # a frozen dataclass of filters


class PagedTable(Generic[Query]):
    page_size = 20

    def __init__(self, view: Console, query: Query) -> None:
        self.view = view
        self.query = query
        self.table: ui.table | None = None
        self.problem: ui.label | None = None

    async def fetch(self, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """One page of rows (for the table) and how many rows match the query in all."""
        raise NotImplementedError

    def day_inputs(self) -> None:
        """The "From" and "To" day filters."""
        first = ui.input(_("From"), on_change=lambda e: self._days(first_day=e.value))
        first.props('hint="YYYY-MM-DD" clearable').classes("w-36")
        last = ui.input(_("To"), on_change=lambda e: self._days(last_day=e.value))
        last.props('hint="YYYY-MM-DD" clearable').classes("w-36")

    def problem_label(self) -> None:
        self.problem = ui.label("").classes("text-negative").mark("filter-problem")

    def make_table(self, columns: list[dict[str, Any]], mark: str) -> ui.table:
        pagination = {"page": 1, "rowsPerPage": self.page_size, "rowsNumber": 0}
        self.table = ui.table(
            rows=[], columns=i18n.columns(columns), row_key="id", pagination=pagination
        )
        self.table.classes("w-full").mark(mark)
        self.table.on("request", self._page_asked)
        return self.table

    async def load(self, page: int | None = None) -> None:
        if self.table is None:
            return
        pagination = dict(self.table.pagination)
        page = page or int(pagination.get("page", 1))
        size = int(pagination.get("rowsPerPage", self.page_size)) or self.page_size
        rows, total = await self.fetch(offset=(page - 1) * size, limit=size)
        self.table.rows = rows
        self.table.pagination = {
            **pagination,
            "page": page,
            "rowsPerPage": size,
            "rowsNumber": total,
        }

    async def _page_asked(self, e: events.GenericEventArguments) -> None:
        """QTable asks for another page (or page size): the server cuts it."""
        asked = e.args.get("pagination", {}) if isinstance(e.args, dict) else {}
        if self.table is not None:
            self.table.pagination = {**self.table.pagination, **asked}
        await self.load(int(asked.get("page", 1)))

    async def _filter(self, **changes: Any) -> None:
        self.query = replace(self.query, **changes)
        await self.load(1)

    async def _days(self, **changes: str | None) -> None:
        parsed: dict[str, date | None] = {}
        for key, text in changes.items():
            text = (text or "").strip()
            try:
                parsed[key] = date.fromisoformat(text) if text else None
            except ValueError:
                if self.problem is not None and len(text) >= 10:
                    self.problem.set_text(_("Write days as YYYY-MM-DD."))
                return
        if self.problem is not None:
            self.problem.set_text("")
        await self._filter(**parsed)
