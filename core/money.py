"""Money helpers: Decimal RMB, half-up to 0.01, and Chinese capital numerals."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def quantize_money(value: Decimal) -> Decimal:
    """Round to 0.01 half-up, the rounding the refund computation documents."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money_str(value: Decimal) -> str:
    """Format as the API does: a string with exactly two decimals."""
    return str(quantize_money(value))


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = ["", "拾", "佰", "仟"]
_BIG_UNITS = ["", "万", "亿", "万亿"]


def _four_digits(group: int) -> str:
    """Write 0..9999 with 拾佰仟, zeros collapsed to one 零 inside the group."""
    out: list[str] = []
    zero_pending = False
    for position in range(3, -1, -1):
        digit = group // (10**position) % 10
        if digit == 0:
            if out:
                zero_pending = True
            continue
        if zero_pending:
            out.append("零")
            zero_pending = False
        out.append(_DIGITS[digit] + _SMALL_UNITS[position])
    return "".join(out)


def amount_in_words(amount: Decimal) -> str:
    """Chinese capital numerals as printed on invoices, e.g. 壹仟贰佰叁拾玖圆整.

    Written here because the library that does this (cn2an) prints 元, while
    VAT invoices print 圆, and the rule set is small and fully tested.
    """
    amount = quantize_money(amount)
    negative = amount < 0
    cents_total = int(abs(amount) * 100)
    yuan, cents = divmod(cents_total, 100)
    jiao, fen = divmod(cents, 10)

    words = ""
    if yuan:
        groups = []
        while yuan:
            groups.append(yuan % 10000)
            yuan //= 10000
        parts: list[str] = []
        need_zero = False
        for index in range(len(groups) - 1, -1, -1):
            group = groups[index]
            if group == 0:
                need_zero = True
                continue
            if parts and (need_zero or group < 1000):
                parts.append("零")
            parts.append(_four_digits(group) + _BIG_UNITS[index])
            need_zero = False
        words = "".join(parts) + "圆"
    if not jiao and not fen:
        words = (words or "零圆") + "整"
    else:
        if jiao:
            words += _DIGITS[jiao] + "角"
        elif words:
            words += "零"
        if fen:
            words += _DIGITS[fen] + "分"
        else:
            words += "整"
    return ("负" if negative else "") + words
