"""The pages' words in the reader's language: one gettext catalog, English and Japanese.

The English texts are the message ids; app/locale/<lang>/LC_MESSAGES/messages.po holds the
other languages, read and compiled in memory at import (no compiled .mo is committed).
`make messages` re-extracts app/locale/messages.pot from app/ui and updates the .po files.

NiceGUI builds each page per browser tab (a `Client`), and two people's pages are built
and updated in one process at the same time: the language belongs to the client, never
to the process. `_()` looks up the client whose page is being built or whose event is
being handled (NiceGUI's slot stack says which), so a page, its click handlers and its
live updates all speak the language chosen when the page was built.
"""

import copy
import gettext
import io
import weakref
from pathlib import Path
from typing import Any, TypeVar

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from nicegui import Client
from nicegui.language import Language
from nicegui.slot import Slot

from app.services.preferences import LANGUAGES

LOCALE_DIR = Path(__file__).parent.parent / "locale"
DOMAIN = "messages"
DEFAULT = LANGUAGES[0]  # the message ids' own language
Key = TypeVar("Key")
NAMES = {"en": "English", "ja": "日本語"}  # each in its own language, as a switch shows them
QUASAR: dict[str, Language] = {"en": "en-US", "ja": "ja"}  # Quasar's language packs


def _compiled(language: str) -> gettext.NullTranslations:
    if language == DEFAULT:
        return gettext.NullTranslations()
    with open(LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po", "rb") as po:
        catalog = read_po(po, locale=language)
    mo = io.BytesIO()
    write_mo(mo, catalog)  # fuzzy entries are left out: they read as English
    mo.seek(0)
    return gettext.GNUTranslations(mo)


CATALOGS = {language: _compiled(language) for language in LANGUAGES}
_spoken: "weakref.WeakKeyDictionary[Client, str]" = weakref.WeakKeyDictionary()


def use(client: Client, language: str) -> None:
    """From now on, this client's page speaks `language`; so do Quasar's own words on it
    (a table's paging, "No data available") and its <html lang>, when the page is new."""
    language = language if language in CATALOGS else DEFAULT
    _spoken[client] = language
    # NiceGUI reads those from the client's `page`, which every client of the path shares:
    # this client gets its own copy, so the choice stays this client's.
    if client.page.language != QUASAR[language]:
        page = copy.copy(client.page)
        page.language = QUASAR[language]
        client.page = page


def page_client() -> Client | None:
    """The client whose page is being built or handled, if any."""
    for slot in reversed(Slot.get_stack()):
        try:
            return slot.parent.client
        except RuntimeError:  # a handler still inside an element it deleted (a closed dialog)
            continue
    return None


def current() -> str:
    """The language of the page being built or handled; English outside any page."""
    client = page_client()
    return DEFAULT if client is None else _spoken.get(client, DEFAULT)


def translate(message: str, language: str) -> str:
    if not message:  # gettext's "" is the catalog's header
        return message
    return CATALOGS.get(language, CATALOGS[DEFAULT]).gettext(message)


def _(message: str) -> str:
    """The message in the current page's language."""
    return translate(message, current())


def ngettext(singular: str, plural: str, n: int) -> str:
    return CATALOGS[current()].ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a message for the catalog where it is defined; `_()` translates it where shown."""
    return message


def columns(table_columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A table's columns with their `label`s (marked with N_) in the page's language."""
    return [{**column, "label": _(column["label"])} for column in table_columns]


def choices(options: dict[Key, str]) -> dict[Key, str]:
    """A select's options (marked with N_) in the page's language."""
    return {key: _(words) for key, words in options.items()}
