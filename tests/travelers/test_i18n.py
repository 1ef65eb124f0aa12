"""Every language has every message of the travelers catalog, placeholders intact."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

LOCALE = Path(__file__).resolve().parents[2] / "travelers" / "locale"
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def catalog(lang_dir: str) -> dict[str, str]:
    """msgid -> msgstr of one .po file (header left out)."""
    entries: dict[str, str] = {}
    msgid = msgstr = None
    field = ""
    for raw in (LOCALE / lang_dir / "LC_MESSAGES" / "django.po").read_text().splitlines():
        line = raw.strip()
        if line.startswith("msgid "):
            if msgid:
                entries[msgid] = msgstr or ""
            msgid, msgstr, field = ast.literal_eval(line[6:]), "", "id"
        elif line.startswith("msgstr "):
            msgstr, field = ast.literal_eval(line[7:]), "str"
        elif line.startswith('"') and msgid is not None:
            if field == "id":
                msgid += ast.literal_eval(line)
            else:
                msgstr = (msgstr or "") + ast.literal_eval(line)
    if msgid:
        entries[msgid] = msgstr or ""
    return entries


def lang_dir(code: str) -> str:
    return translation.to_locale(code)


def test_the_catalogs_are_the_ten_languages() -> None:
    assert {p.name for p in LOCALE.iterdir()} == {lang_dir(c) for c, _ in settings.LANGUAGES}


@pytest.mark.parametrize("code", [c for c, _ in settings.LANGUAGES if c != "en"])
def test_every_message_is_translated(code: str) -> None:
    english = catalog("en")
    assert len(english) > 50
    translated = catalog(lang_dir(code))
    assert set(translated) == set(english), "run makemessages for the travelers app"
    for msgid, msgstr in translated.items():
        assert msgstr.strip(), f"{code}: {msgid!r} untranslated"
        assert sorted(PLACEHOLDER.findall(msgstr)) == sorted(PLACEHOLDER.findall(msgid)), msgid
    # and the compiled catalog (scripts/setup runs compilemessages) is the one in use
    title = "Your tax refund"  # a variable: makemessages must not collect it from tests/
    with translation.override(code):
        assert gettext(title) == translated[title]
