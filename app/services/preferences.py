"""A user's own choices that follow them to every browser: for now, the pages' language.

One service, two faces: the pages' language switch and GraphQL's `setMyLanguage`.
"""

from app.domain.model import User
from app.services.container import Services
from app.services.errors import Invalid
from app.store import preferences

# The languages the pages have a catalog for (app/locale); the first is the fallback.
LANGUAGES = ("en", "ja")


class UnknownLanguage(Invalid):
    def __init__(self, language: str) -> None:
        super().__init__(
            f"No pages in language {language!r}; choose one of: {', '.join(LANGUAGES)}."
        )
        self.language = language


async def language_of(services: Services, user: User) -> str | None:
    """The language this user chose, or None: the browser's language decides."""
    return await services.db.read(lambda conn: preferences.language_of(conn, user.id))


async def set_language(services: Services, user: User, language: str) -> str:
    """Refuses a language the pages cannot speak, and changes nothing then."""
    if language not in LANGUAGES:
        raise UnknownLanguage(language)
    await services.db.write(lambda conn: preferences.save_language(conn, user.id, language))
    return language
