"""The catalog: every key in every language, every next step and status covered."""

from __future__ import annotations

import re
import string

import pytest
from django.conf import settings

from kiosk.i18n import (
    CATALOG,
    LANGUAGES,
    NUMBER_MARKS,
    RTL_LANGUAGES,
    format_amount,
    language_of,
    money,
    text,
)
from kiosk.selectors import NEXT_STEPS, TIMELINE_ACTIONS
from stores.models import FormStatus

LANGS = [code for code, _, _ in LANGUAGES]


def test_the_ten_languages_of_the_spec() -> None:
    assert LANGS == [code for code, _ in settings.LANGUAGES]
    assert {name for _, name, _ in LANGUAGES} == {
        "English", "简体中文", "繁體中文", "日本語", "한국어",
        "Русский", "Français", "Deutsch", "Español", "العربية",
    }  # fmt: skip
    assert RTL_LANGUAGES == {"ar"}


@pytest.mark.parametrize("lang", LANGS)
def test_every_key_in_every_language(lang: str) -> None:
    english = CATALOG["en"]
    assert set(CATALOG[lang]) == set(english)
    for key, phrase in CATALOG[lang].items():
        assert phrase.strip(), f"{lang}.{key} is empty"
        fields = {f for _, f, _, _ in string.Formatter().parse(phrase) if f}
        expected = {f for _, f, _, _ in string.Formatter().parse(english[key]) if f}
        assert fields == expected, f"{lang}.{key} placeholders"


@pytest.mark.parametrize("lang", LANGS)
def test_every_status_and_next_step_has_words(lang: str) -> None:
    for status in FormStatus.values:
        assert f"status_{status}" in CATALOG[lang]
    for step in NEXT_STEPS:
        assert step in CATALOG[lang]
    for action in TIMELINE_ACTIONS:
        assert f"ev_{action}" in CATALOG[lang]


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
        for step in NEXT_STEPS:
            assert CATALOG[lang][step] != CATALOG["en"][step], (lang, step)
            if lang in scripts:
                assert re.search(scripts[lang], CATALOG[lang][step]), (lang, step)
    assert CATALOG["zh-hans"]["next_counter"] != CATALOG["zh-hant"]["next_counter"]


def test_text_and_money() -> None:
    assert language_of("ZH-Hans") == "zh-hans"
    assert language_of("tlh") == "en"
    assert text("ko", "next_refunded", amount=money("ko", "18.00")) == (
        "18.00 위안의 환급금이 지급되었습니다. 영수증을 보관하세요."
    )
    assert money("zh-hans", "324.00") == "人民币 324.00 元"


def test_amounts_are_written_the_way_each_language_writes_them() -> None:
    assert set(NUMBER_MARKS) == set(CATALOG)
    assert money("en", "20700.00") == "RMB 20,700.00"
    assert money("de", "1234567.05") == "1.234.567,05 RMB"
    assert money("fr", "20700.00") == "20\u202f700,00 RMB"
    assert money("ru", "18.00") == "18,00 юаня"
    assert money("ar", "20700.00") == "20,700.00 يوان"
    assert format_amount("es", "-1500.50") == "-1.500,50"
