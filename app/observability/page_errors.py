"""The pages' error page: NiceGUI's own, with the request id in place of the exception.

Left alone, NiceGUI shows `ExceptionClass: message` to the browser, and a store's message
holds its SQL and parameters. The exception, with its trace, goes to the log (NiceGUI
logs it), on a line carrying the same request id.
"""

from nicegui.error import error_content

from app.observability.request_ids import request_id


def page_error() -> None:
    error_content(500, f"Request ID: {request_id() or '-'}")
