"""Every text the pages show comes from the catalog, and the catalog speaks Japanese for all
of it: a new English text without its translation fails here, not in front of a driver."""

import ast
import re
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from app.services.audit_trail import ACTIONS
from app.ui import i18n
from app.ui.manage.audit import ACTION_WORDS

UI = Path(i18n.__file__).parent
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}
PLACEHOLDER = re.compile(r"\{(\w*)[^}]*\}")
# Calls that put their text argument on a page, and the keywords that carry text.
SHOWS_TEXT = {
    "label",
    "button",
    "notify",
    "input",
    "textarea",
    "number",
    "select",
    "checkbox",
    "switch",
    "link",
    "page_title",
    "set_text",
    "tooltip",
}
TEXT_KEYWORDS = {"text", "label", "content", "title", "placeholder"}
NOT_WORDS = {"PowerPermit"}  # the product's name reads the same in every language


def extracted() -> set[str | tuple[str, ...]]:
    found = extract_from_dir(str(UI), [("**.py", "python")], keywords=KEYWORDS)
    return {message for _file, _line, message, _comments, _context in found}


def japanese() -> dict[str | tuple[str, ...], object]:
    path = i18n.LOCALE_DIR / "ja" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale="ja")
    return {m.id: m.string for m in catalog if m.id and not m.fuzzy}


def test_every_text_of_the_pages_has_a_japanese_translation() -> None:
    texts = extracted()
    assert len(texts) > 200  # the extraction did find the pages' texts
    translations = japanese()
    missing = sorted(str(text) for text in texts if not _translated(translations.get(text)))
    assert not missing, f"add these to app/locale/ja (make messages): {missing}"


def test_each_translation_keeps_its_messages_placeholders() -> None:
    for message, translated in japanese().items():
        english = message if isinstance(message, str) else message[0]
        for text in translated if isinstance(translated, tuple) else (translated,):
            assert sorted(PLACEHOLDER.findall(str(text))) == sorted(PLACEHOLDER.findall(english)), (
                english,
                text,
            )


def test_the_pages_pass_no_bare_english_to_what_shows_text() -> None:
    bare = []
    for path in sorted(UI.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            if node.func.attr not in SHOWS_TEXT:
                continue
            texts = node.args[:1] + [k.value for k in node.keywords if k.arg in TEXT_KEYWORDS]
            bare += [f"{path.relative_to(UI)}:{node.lineno}" for text in texts if _words(text)]
    assert not bare, f"wrap these texts in _() (app/ui/i18n.py): {bare}"


def _translated(translation: object) -> bool:
    if isinstance(translation, tuple):
        return all(translation)
    return bool(translation)


def _words(node: ast.expr) -> bool:
    """A literal (or an f-string's literal part) with letters in it, other than a name."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
        for name in NOT_WORDS:
            text = text.replace(name, "")
        return re.search(r"[A-Za-z]", text) is not None
    if isinstance(node, ast.JoinedStr):
        return any(_words(part) for part in node.values)
    return False


def test_every_audited_action_has_words_in_the_catalog() -> None:
    """The audit log names actions the services list; a new one needs its words here too."""
    assert set(ACTIONS) <= set(ACTION_WORDS), set(ACTIONS) - set(ACTION_WORDS)
    assert all(ACTION_WORDS[key] == words for key, words in ACTIONS.items())
