"""PDF basics shared by printed forms and receipts: an embedded CJK font.

ReportLab embeds (subsets) a TrueType font, so Chinese renders in any viewer.
The font is WenQuanYi Zen Hei (Debian ``fonts-wqy-zenhei``, TrueType outlines,
covers Chinese, Japanese kana and Korean Hangul); the setup scripts install it.
``CJK_FONT_PATH`` overrides the search.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_NAME = "CJK"
CANDIDATES = [
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
]


@cache
def cjk_font() -> str:
    """Register the CJK font once per process and return its ReportLab name."""
    paths = [os.environ["CJK_FONT_PATH"]] if os.environ.get("CJK_FONT_PATH") else CANDIDATES
    for path in paths:
        if Path(path).exists():
            kwargs = {"subfontIndex": 0} if path.endswith(".ttc") else {}
            pdfmetrics.registerFont(TTFont(FONT_NAME, path, **kwargs))
            return FONT_NAME
    raise ImproperlyConfigured(
        "No CJK font found for PDFs: install Debian's fonts-wqy-zenhei (scripts/setup does)"
        " or set CJK_FONT_PATH."
    )
