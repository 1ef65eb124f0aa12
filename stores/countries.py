"""ISO 3166-1 countries from ``pycountry`` (the iso-codes data), names in the traveler's language.

Names are translated through iso-codes' own gettext domain ``iso3166-1`` shipped inside
pycountry, so a Japanese traveler reads 日本 and a French one Japon. Two small tables stay
here because no ISO list holds them: the ICAO Doc 9303 part 3 codes that MRZs use and ISO
does not (``D`` for Germany, the British nationality variants, Kosovo ``RKS`` → ``XK``), and
the Chinese names of Hong Kong, Macao and Taiwan as Chinese official usage writes them.
"""

from __future__ import annotations

import gettext
from functools import cache

import pycountry

# ICAO Doc 9303 codes that are not ISO alpha-3, mapped to the ISO alpha-2 they stand for.
ICAO_ONLY: dict[str, str] = {
    "D": "DE",
    "GBD": "GB",
    "GBN": "GB",
    "GBO": "GB",
    "GBP": "GB",
    "GBS": "GB",
    "RKS": "XK",
}
# Not in ISO 3166 (a user-assigned code used by the EU and ICAO): English and Chinese.
EXTRA_COUNTRIES: dict[str, tuple[str, str]] = {"XK": ("Kosovo", "科索沃")}
# iso-codes' locale per platform language (Django code).
ISO_LOCALES: dict[str, str] = {
    "zh-hans": "zh_CN",
    "zh-hant": "zh_TW",
    "ja": "ja",
    "ko": "ko",
    "ru": "ru",
    "fr": "fr",
    "de": "de",
    "es": "es",
    "ar": "ar",
}
# Chinese official usage for the three regions (iso-codes writes them otherwise).
REGION_NAMES: dict[str, dict[str, str]] = {
    "zh-hans": {"HK": "中国香港", "MO": "中国澳门", "TW": "中国台湾"},
    "zh-hant": {"HK": "中國香港", "MO": "中國澳門", "TW": "中國台灣"},
}


@cache
def _translation(lang: str) -> gettext.NullTranslations:
    locale = ISO_LOCALES.get(lang)
    if locale is None:
        return gettext.NullTranslations()
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, [locale], fallback=True)


def _english(country: object) -> str:
    return str(getattr(country, "common_name", None) or country.name)  # type: ignore[attr-defined]


def alpha2_from_mrz(code: str) -> str | None:
    """The ISO alpha-2 code for an MRZ nationality/issuer code (``FRA``, ``D<<``), or None.

    None for codes with no country: stateless (``XXA``), refugee (``XXB``, ``XXC``),
    unspecified (``XXX``) and the UN/organisation codes.
    """
    key = code.replace("<", "").strip().upper()
    if key in ICAO_ONLY:
        return ICAO_ONLY[key]
    if len(key) != 3:
        return None
    country = pycountry.countries.get(alpha_3=key)
    return str(country.alpha_2) if country is not None else None


@cache
def country_name(alpha2: str, lang: str = "en") -> str | None:
    """The country's name in ``lang`` (a platform language code), or None if unknown."""
    code = (alpha2 or "").strip().upper()
    if code in EXTRA_COUNTRIES:
        english, chinese = EXTRA_COUNTRIES[code]
        return chinese if lang in ("zh-hans", "zh-hant") else english
    if len(code) != 2 or not code.isalpha():
        return None
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return None
    if code in REGION_NAMES.get(lang, {}):
        return REGION_NAMES[lang][code]
    english = _english(country)
    translated = _translation(lang).gettext(english)
    if translated == english and english != country.name:
        translated = _translation(lang).gettext(country.name)
    return translated if lang != "en" else english


def country_names(alpha2: str) -> tuple[str, str] | None:
    """(English, Chinese) names of an alpha-2 code, or None if unknown."""
    english = country_name(alpha2, "en")
    if english is None:
        return None
    return english, country_name(alpha2, "zh-hans") or english


@cache
def _choices() -> tuple[tuple[str, str], ...]:
    codes = [str(c.alpha_2) for c in pycountry.countries] + list(EXTRA_COUNTRIES)
    rows = []
    for code in codes:
        names = country_names(code)
        assert names is not None
        rows.append((code, f"{code} · {names[0]} {names[1]}", names[0]))
    return tuple((code, label) for code, label, _english in sorted(rows, key=lambda r: r[2]))


def country_choices() -> list[tuple[str, str]]:
    """(alpha-2, "FR · France 法国") sorted by English name, for a select box."""
    return list(_choices())
