"""Translations: every .po catalog of the project complete in every language, up to date with
the source, placeholders intact; the kiosk's words in each language; countries from pycountry."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.utils.translation import to_locale

from kiosk.i18n import (
    LANGUAGES,
    MESSAGES,
    NUMBER_MARKS,
    RTL_LANGUAGES,
    format_amount,
    language_of,
    money,
    strings,
    text,
)
from kiosk.selectors import NEXT_STEPS, TIMELINE_ACTIONS
from stores.countries import alpha2_from_mrz, country_choices, country_name, country_names
from stores.models import FormStatus

ROOT = Path(__file__).resolve().parents[2]
LANGS = [code for code, _, _ in LANGUAGES]
SKIP_DIRS = {".venv", ".git", "node_modules", "test-artifacts", "var", "__pycache__"}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def catalogs() -> list[Path]:
    """Every app's locale/ directory in the project (kiosk, travelers, any later one)."""
    found = []
    for path in sorted(ROOT.glob("*/locale")):
        if path.is_dir() and path.parent.name not in SKIP_DIRS:
            found.append(path)
    return found


def test_the_ten_languages_of_the_spec() -> None:
    assert LANGS == [code for code, _ in settings.LANGUAGES]
    assert {name for _, name, _ in LANGUAGES} == {
        "English", "简体中文", "繁體中文", "日本語", "한국어",
        "Русский", "Français", "Deutsch", "Español", "العربية",
    }  # fmt: skip
    assert RTL_LANGUAGES == {"ar"}
    assert any(path.parent.name == "kiosk" for path in catalogs())


@pytest.mark.parametrize("locale_dir", catalogs(), ids=lambda p: p.parent.name)
def test_every_language_has_every_message(locale_dir: Path) -> None:
    """Each catalog exists in all ten languages with the same msgids, all translated."""
    by_lang = {}
    for code in LANGS:
        for domain in ("django", "djangojs"):
            path = locale_dir / to_locale(code) / "LC_MESSAGES" / f"{domain}.po"
            if domain == "django":
                assert path.exists(), f"{path.relative_to(ROOT)} is missing"
            if path.exists():
                by_lang[(code, domain)] = polib.pofile(str(path))
    for (code, domain), po in by_lang.items():
        english = by_lang[("en", domain)]
        ids = {(e.msgctxt, e.msgid) for e in english if not e.obsolete}
        assert {(e.msgctxt, e.msgid) for e in po if not e.obsolete} == ids, (code, domain)
        for entry in po:
            if entry.obsolete:
                continue
            where = f"{locale_dir.parent.name}/{code}: {entry.msgid[:40]!r}"
            assert "fuzzy" not in entry.flags, f"fuzzy: {where}"
            translated = entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]
            for value in translated:
                assert value.strip(), f"untranslated: {where}"
                assert set(PLACEHOLDER.findall(value)) == set(PLACEHOLDER.findall(entry.msgid)), (
                    f"placeholders: {where}"
                )


@pytest.mark.parametrize("locale_dir", catalogs(), ids=lambda p: p.parent.name)
def test_catalogs_compile_cleanly(locale_dir: Path) -> None:
    for po in locale_dir.glob("*/LC_MESSAGES/*.po"):
        msgfmt = shutil.which("msgfmt")
        assert msgfmt, "gettext is missing: scripts/setup installs it"
        run = subprocess.run(  # noqa: S603
            [msgfmt, "--check", "-o", "/dev/null", str(po)], capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr


def test_catalogs_are_up_to_date_with_the_source(tmp_path: Path) -> None:
    """makemessages on a copy of the project finds no msgid the committed catalogs lack."""
    copy = tmp_path / "project"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            *SKIP_DIRS, "*.mo", "*.sqlite3", ".mypy_cache", ".ruff_cache"
        ),
    )
    run = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "--all", "--no-obsolete", "-v", "0",
         "--ignore=.venv", "--ignore=test-artifacts", "--ignore=var", "--ignore=node_modules"],
        cwd=copy,
        capture_output=True,
        text=True,
        env={"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
             "DJANGO_SETTINGS_MODULE": "refund_site.settings.test"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    missing = []
    for locale_dir in catalogs():
        for fresh in (copy / locale_dir.relative_to(ROOT)).glob("*/LC_MESSAGES/*.po"):
            committed = polib.pofile(str(ROOT / fresh.relative_to(copy)))
            known = {(e.msgctxt, e.msgid) for e in committed if not e.obsolete}
            missing += [
                f"{fresh.relative_to(copy)}: {e.msgid[:50]!r}"
                for e in polib.pofile(str(fresh))
                if not e.obsolete and (e.msgctxt, e.msgid) not in known
            ]
    assert not missing, "run makemessages and translate:\n" + "\n".join(missing)


@pytest.mark.parametrize("lang", LANGS)
def test_every_status_next_step_and_event_has_words(lang: str) -> None:
    for status in FormStatus.values:
        assert f"status_{status}" in MESSAGES
    for key in (*NEXT_STEPS, *(f"ev_{a}" for a in TIMELINE_ACTIONS)):
        assert key in MESSAGES
    words = strings(lang)
    assert set(words) == set(MESSAGES)
    assert all(value.strip() for value in words.values())


def test_translations_are_real_not_copies() -> None:
    # Each language's next steps differ from English, and CJK/Korean/Arabic use their scripts.
    scripts = {
        "zh-hans": r"[\u4e00-\u9fff]",
        "zh-hant": r"[\u4e00-\u9fff]",
        "ja": r"[\u3040-\u30ff]",
        "ko": r"[\uac00-\ud7af]",
        "ru": r"[\u0400-\u04ff]",
        "ar": r"[\u0600-\u06ff]",
    }
    for lang in LANGS[1:]:
        for step in (*NEXT_STEPS, "err_form_empty", "err_document_malformed", "why_less_partial"):
            assert text(lang, step) != text("en", step), (lang, step)
            if lang in scripts:
                assert re.search(scripts[lang], text(lang, step)), (lang, step)
    assert text("zh-hans", "next_counter") != text("zh-hant", "next_counter")
    # The same English word, two readings: a state and an event (message contexts).
    assert text("ja", "status_rejected") == "税関で却下"
    assert text("ja", "ev_form_rejected") == "税関が却下"


def test_text_and_money() -> None:
    assert language_of("ZH-Hans") == "zh-hans"
    assert language_of("tlh") == "en"
    assert text("ko", "next_refunded", amount=money("ko", "18.00")) == (
        "18.00 위안의 환급금이 지급되었습니다. 영수증을 보관하세요."
    )
    assert money("zh-hans", "324.00") == "人民币 324.00 元"


def test_amounts_are_written_the_way_each_language_writes_them() -> None:
    assert set(NUMBER_MARKS) == set(LANGS)
    assert money("en", "20700.00") == "RMB 20,700.00"
    assert money("de", "1234567.05") == "1.234.567,05 RMB"
    assert money("fr", "20700.00") == "20\u202f700,00 RMB"
    assert money("ru", "18.00") == "18,00 юаня"
    assert money("ar", "20700.00") == "20,700.00 يوان"
    assert format_amount("es", "-1500.50") == "-1.500,50"


def test_countries_from_pycountry_in_the_travelers_language() -> None:
    assert country_names("JP") == ("Japan", "日本")
    assert country_name("JP", "ja") == "日本"
    assert country_name("FR", "ja") == "フランス"
    assert country_name("DE", "fr") == "Allemagne"
    assert country_name("KR", "ko") == "대한민국"
    assert country_name("HK", "zh-hans") == "中国香港"
    assert country_name("XK", "en") == "Kosovo"
    assert country_names("ZZ") is None and country_name("", "en") is None
    # MRZ codes: ISO alpha-3 through pycountry, ICAO-only codes from the small table.
    assert (alpha2_from_mrz("FRA"), alpha2_from_mrz("D<<"), alpha2_from_mrz("GBD")) == (
        "FR",
        "DE",
        "GB",
    )
    assert alpha2_from_mrz("XXA") is None
    choices = dict(country_choices())
    assert len(choices) >= 249 and choices["FR"] == "FR · France 法国"
