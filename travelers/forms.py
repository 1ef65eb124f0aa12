"""Phone-page forms: the traveler's address for notices, the transfer chosen ahead."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class ContactForm(forms.Form):
    email = forms.EmailField(label=_("Email for notices"), max_length=254)


class PayoutChoiceForm(forms.Form):
    form_number = forms.CharField(label=_("Form number"), max_length=40)
    document_number = forms.CharField(
        label=_("Passport (document) number"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    payout_method = forms.ChoiceField(
        label=_("Paid to"),
        choices=[
            ("alipay", _("Alipay")),
            ("wechat", _("WeChat Pay")),
            ("bank_card", _("Bank card")),
        ],
    )
    payout_account = forms.CharField(
        label=_("Account (card number, Alipay or WeChat ID)"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
