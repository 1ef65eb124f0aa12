"""Forms of the bilingual (简体中文 / English) staff pages: Django's messages in both languages.

Django's own field messages ("This field is required.") are English only, while every
other word on the staff pages is Chinese and English. ``BilingualForm`` replaces each
default message a field still has by its bilingual form; messages a form sets itself
(``error_messages=...``) are left alone.
"""

from __future__ import annotations

from typing import Any

from django import forms

MESSAGES: dict[str, str] = {
    "required": "This field is required · 此项必填",
    "invalid_choice": "Choose one of the options · 请从选项中选择",
    "max_length": (
        "At most %(limit_value)d characters (it has %(show_value)d) · 最多 %(limit_value)d 个字符"
    ),
    "min_length": (
        "At least %(limit_value)d characters (it has %(show_value)d) · 至少 %(limit_value)d 个字符"
    ),
    "min_value": "Must be at least %(limit_value)s · 不得小于 %(limit_value)s",
    "max_value": "Must be at most %(limit_value)s · 不得大于 %(limit_value)s",
    "max_digits": "At most %(max)s digits in total · 最多 %(max)s 位数字",
    "max_decimal_places": "At most %(max)s decimal places · 最多 %(max)s 位小数",
    "max_whole_digits": "At most %(max)s digits before the decimal point · 整数部分最多 %(max)s 位",
    "step_size": "Must be a multiple of %(limit_value)s · 须为 %(limit_value)s 的倍数",
}

# "invalid" depends on the kind of field: the first match wins (DecimalField is an
# IntegerField subclass, DateTimeField a DateField one: the subclasses come first).
INVALID: list[tuple[type[forms.Field], str]] = [
    (forms.DecimalField, "Enter a number, e.g. 1280.50 · 请输入数字, 例如 1280.50"),
    (forms.IntegerField, "Enter a whole number · 请输入整数"),
    (forms.FloatField, "Enter a number · 请输入数字"),
    (forms.DateTimeField, "Enter a date and time · 请输入日期和时间"),
    (forms.DateField, "Enter a date as YYYY-MM-DD · 请按 年-月-日 输入日期"),
    (forms.EmailField, "Enter a valid email address · 请输入有效的电子邮箱"),
]


def _class_defaults(field: forms.Field) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    for cls in reversed(type(field).__mro__):
        defaults.update(getattr(cls, "default_error_messages", {}))
    return defaults


def bilingual_error_messages(field: forms.Field) -> None:
    """Swap the field's remaining Django default messages for bilingual ones (in place)."""
    defaults = _class_defaults(field)
    current = field.error_messages
    for code, message in MESSAGES.items():
        if current.get(code, defaults.get(code)) == defaults.get(code):
            current[code] = message
    if current.get("invalid") == defaults.get("invalid"):
        for cls, message in INVALID:
            if isinstance(field, cls):
                current["invalid"] = message
                break


class BilingualForm(forms.Form):
    """A form whose field messages read in Chinese and English, as the staff pages do."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            bilingual_error_messages(field)
