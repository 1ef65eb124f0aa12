# ruff: noqa: E501, RUF001
"""The kiosk's words: Django's gettext, one ``.po`` catalog per language in ``kiosk/locale/``.

The English phrase is the msgid; translators work on ``kiosk/locale/<lang>/LC_MESSAGES/
django.po`` with the standard tools (``makemessages -l <lang>`` after a code change,
``compilemessages`` is run by ``scripts/setup``). Code and the page's script refer to a
phrase by a short key (``text(lang, "next_counter")``); ``MESSAGES`` maps each key to its
lazily translated msgid. Placeholders are Python's ``%(name)s`` (``python-format``, checked
by ``msgfmt --check``). Status and history words carry a context: the same English word
reads differently in some languages as a state and as an event.
"""

from __future__ import annotations

from functools import cache
from typing import Final

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override, pgettext_lazy

DEFAULT_LANGUAGE: Final = "en"

# (code, native name, right to left)
LANGUAGES: Final[list[tuple[str, str, bool]]] = [
    ("en", "English", False),
    ("zh-hans", "简体中文", False),
    ("zh-hant", "繁體中文", False),
    ("ja", "日本語", False),
    ("ko", "한국어", False),
    ("ru", "Русский", False),
    ("fr", "Français", False),
    ("de", "Deutsch", False),
    ("es", "Español", False),
    ("ar", "العربية", True),
]
LANGUAGE_CODES: Final = frozenset(code for code, _name, _rtl in LANGUAGES)
RTL_LANGUAGES: Final = frozenset(code for code, _name, rtl in LANGUAGES if rtl)

MESSAGES: Final[dict[str, Promise]] = {
    "title": _("Tax refund self-service"),
    "choose_language": _("Choose your language"),
    "intro": _(
        "Scan the QR code on your refund form, or type the form number and your passport number."
    ),
    "form_label": _("Form number (16 digits) or QR code"),
    "document_label": _("Passport or travel permit number"),
    "lookup": _("Check my refund"),
    "clear": _("Clear"),
    "searching": _("Checking…"),
    "not_found": _(
        "We could not find a form with this number and document. Please check both and try again."
    ),
    "throttled": _("Too many attempts. Please wait a minute and try again."),
    "form_locked": _(
        "Too many wrong passport numbers for this form. Please wait 15 minutes, or ask the staff at the counter."
    ),
    "network_error": _("The service is not available right now. Please ask staff for help."),
    "status": _("Status"),
    "total": _("Purchase total"),
    "net_refund": _("Your refund"),
    "next_step": _("What to do next"),
    "timeline": _("History"),
    "payout_options": _("How you can be paid"),
    "not_available": _("Not available"),
    "start_over": _("Start over"),
    "idle_warning": _("No activity: back to the start in %(seconds)s s. Touch the screen to stay."),
    "money": _("RMB %(amount)s"),
    "status_issued": pgettext_lazy("form status", "Issued – not yet checked by customs"),
    "status_verified": pgettext_lazy("form status", "Verified by customs"),
    "status_partially_verified": pgettext_lazy("form status", "Partly verified by customs"),
    "status_rejected": pgettext_lazy("form status", "Refused by customs"),
    "status_refunded": pgettext_lazy("form status", "Refund paid"),
    "status_voided": pgettext_lazy("form status", "Cancelled by the store"),
    "next_customs": _("Show your goods, this form and your passport to customs before check-in."),
    "next_green_lane": _(
        "Green lane: your goods were not selected for inspection. Show this form and your passport to customs before check-in."
    ),
    "next_red_lane": _(
        "Red lane: customs will inspect your goods. Bring the goods, this form and your passport to customs before check-in."
    ),
    "next_counter": _("Go to the refund counter with this form and your passport."),
    "next_counter_partial": _(
        "Customs verified part of your goods. Go to the refund counter with this form and your passport: the refund covers the verified goods."
    ),
    "next_mailbox": _(
        "Your form was processed from the mailbox. The refund agency pays it by transfer; you do not need to do anything."
    ),
    "next_refunded": _("Your refund of %(amount)s has been paid. Please keep your receipt."),
    "next_rejected": _(
        "Customs refused this form because the goods or the document did not match. No refund can be paid on it. Please ask at the customs desk if you have questions."
    ),
    "next_voided": _(
        "The store cancelled this form, usually because the goods were returned. No refund is due on it. Please ask the store if you have questions."
    ),
    "next_prepaid": _(
        "You already received your refund at the store (Buy & Refund). Show your goods, this form and your passport to customs before check-in, and leave China by %(deadline)s; otherwise the amount is charged to your card."
    ),
    "next_prepaid_verified": _(
        "Customs verified your goods. You already received your refund at the store: there is nothing more to do, and the guarantee on your card will be released."
    ),
    "next_prepaid_partial": _(
        "Customs verified only part of your goods. You already received your refund at the store; the difference for the goods not verified is charged to your card."
    ),
    "ev_form_issued": pgettext_lazy("history event", "Form issued by the store"),
    "ev_form_verified": pgettext_lazy("history event", "Goods verified by customs"),
    "ev_form_partially_verified": pgettext_lazy(
        "history event", "Part of the goods verified by customs"
    ),
    "ev_form_rejected": pgettext_lazy("history event", "Refused by customs"),
    "ev_mailbox_form_verified": pgettext_lazy("history event", "Verified by customs (mailbox)"),
    "ev_mailbox_form_refused": pgettext_lazy("history event", "Refused by customs (mailbox)"),
    "ev_form_voided": pgettext_lazy("history event", "Cancelled by the store"),
    "ev_form_refunded": pgettext_lazy("history event", "Refund paid"),
    "ev_other": pgettext_lazy("history event", "Status updated"),
    "pay_cash": _("Cash"),
    "pay_bank_card": _("Bank card"),
    "pay_alipay": _("Alipay"),
    "pay_wechat": _("WeChat Pay"),
    "why_cash_cap": _("Over the cash limit of %(cap)s: transfer only"),
    "why_mailbox": _("Mailbox forms are paid by transfer only"),
    "keyboard": _("On-screen keyboard"),
    "key_back": _("Delete"),
    "key_next": _("Next"),
    "scan_camera": _("Scan the QR code with the camera"),
    "camera_hint": _("Hold the QR code on your form in front of the camera."),
    "camera_stop": _("Close the camera"),
    "camera_unavailable": _(
        "The camera is not available. Please use the scanner or type the number."
    ),
    "err_form_empty": _("Please enter the form number, or scan the QR code on your form."),
    "err_form_malformed": _(
        "A form number has exactly 16 digits, without letters. Please check the number printed on your form."
    ),
    "err_form_check": _(
        "This form number contains a typing error (its last digit does not match). Please check the 16 digits."
    ),
    "err_qr_incomplete": _("The QR code was not read completely. Please scan it again."),
    "err_document_empty": _("Please enter your passport or travel permit number."),
    "err_document_malformed": _(
        "A passport or permit number has only letters and digits (5 to 20). Please check it against your passport."
    ),
    "trip": _("Your forms on this trip"),
    "trip_this_form": _("this form"),
    "trip_total": _("Refunds on this trip"),
    "form_number": _("Form"),
    "paid_title": _("How you were paid"),
    "paid_method": _("Paid by"),
    "paid_account": _("Account"),
    "paid_amount": _("Amount paid"),
    "paid_estimate": _("Estimate printed on the form"),
    "paid_at": _("Paid on"),
    "why_less_partial": _(
        "Why less than the estimate: customs verified goods worth %(verified)s of the %(printed)s printed on the form, and the refund covers only the verified goods."
    ),
    "why_less_other": _(
        "Why it differs from the estimate: the refund is computed on the day it is paid, with the refund agency's fee of that day."
    ),
    "green_lane_title": _("Green lane at this kiosk"),
    "green_lane_offer": _(
        "Your goods were not selected for inspection: this kiosk can verify your form now, with no queue at the customs desk."
    ),
    "green_lane_button": _("Verify my form here"),
    "green_lane_needs_qr": _(
        "To use the green lane, start over and scan the QR code on your form: a typed number is not enough."
    ),
    "green_lane_done": _("Verified at this kiosk (green lane)."),
    "green_lane_inspection": _(
        "Your goods were selected for inspection: please go to the customs desk with your goods, this form and your passport."
    ),
    "green_lane_failed": _("This kiosk could not verify the form. Please go to the customs desk."),
    "choice_title": _("Be paid without going to the counter"),
    "choice_intro": _(
        "Choose a transfer now: once customs has verified your goods, the refund is paid to this account, once."
    ),
    "choice_method": _("Transfer to"),
    "choice_account": _("Card number or account (phone or email)"),
    "choice_email": _("Email for notices (optional)"),
    "choice_submit": _("Save my choice"),
    "choice_current": _(
        "Your refund will be paid by %(method)s to %(account)s once customs has verified your goods."
    ),
    "err_method_empty": _("Please choose how you want to be paid."),
    "err_account_empty": _("Please enter the card number or account to be paid to."),
    "err_card_invalid": _(
        "This card number is not valid: a bank card has 12 to 19 digits. Please check them."
    ),
    "err_alipay_account": _(
        "This is not an Alipay account: enter a mobile number, an email address or a 2088 user ID."
    ),
    "err_wechat_account": _(
        "This is not a WeChat Pay account: enter a WeChat ID or a mobile number."
    ),
    "err_email_malformed": _("This email address does not look right. Please check it."),
    "already_refunded": _("This refund has already been paid."),
    "choice_saved": _("Saved."),
    "choice_failed": _(
        "The transfer by %(method)s to %(account)s could not be made. Choose again, or go to the refund counter."
    ),
    "choice_not_payable": _(
        "No refund can be paid on this form. Please ask the staff at the counter."
    ),
    "saving": _("Saving…"),
}


def language_of(code: str | None) -> str:
    """A supported language code (case-insensitive), else the default."""
    value = (code or "").strip().lower()
    return value if value in LANGUAGE_CODES else DEFAULT_LANGUAGE


def text(lang: str, key: str, **values: str) -> str:
    """The phrase ``key`` in ``lang`` (the English msgid if untranslated), placeholders filled."""
    phrase = _phrase(language_of(lang), key)
    return phrase % values if values else phrase


@cache
def _phrase(lang: str, key: str) -> str:
    # The catalogs are read once per process: a phrase is translated once, not per request
    # (a bounded cache: the languages times the catalog's keys).
    with override(lang):
        return str(MESSAGES[key])


def strings(lang: str) -> dict[str, str]:
    """Every phrase in ``lang``, by key: what the page's script needs to speak it."""
    with override(language_of(lang)):
        return {key: str(phrase) for key, phrase in MESSAGES.items()}


# (thousands separator, decimal mark) per language, as the page's Intl.NumberFormat writes them.
NUMBER_MARKS: Final[dict[str, tuple[str, str]]] = {
    "en": (",", "."),
    "zh-hans": (",", "."),
    "zh-hant": (",", "."),
    "ja": (",", "."),
    "ko": (",", "."),
    "ru": ("\u00a0", ","),
    "fr": ("\u202f", ","),
    "de": (".", ","),
    "es": (".", ","),
    "ar": (",", "."),
}


def format_amount(lang: str, amount: str) -> str:
    """A 2-place amount string with the language's grouping and decimal mark: 20 700,00."""
    group, decimal = NUMBER_MARKS[language_of(lang)]
    sign = "-" if amount.startswith("-") else ""
    whole, _sep, cents = amount.lstrip("-").partition(".")
    grouped = f"{int(whole):,}".replace(",", group)
    return f"{sign}{grouped}{decimal + cents if cents else ''}"


def money(lang: str, amount: str) -> str:
    """An amount of RMB (a 2-place string) the way ``lang`` writes it: 20.700,00 RMB."""
    return text(lang, "money", amount=format_amount(lang, amount))
