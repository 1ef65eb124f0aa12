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


def money_display(value: Decimal) -> str:
    """Format as people read it, on pages and PDFs: 10527 -> "10,527.00"."""
    return f"{quantize_money(value):,.2f}"


def rate_str(rate: Decimal) -> str:
    """A rate as the API writes it: at least two decimals, no trailing zeros beyond.

    0.1300 -> "0.13", 0.0600 -> "0.06", 0.1 -> "0.10", 0.0125 -> "0.0125".
    """
    normalized = rate.normalize()
    exponent = normalized.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        normalized = normalized.quantize(CENT)
    return f"{normalized:f}"


def rate_pct(rate: Decimal) -> str:
    """A rate as people read it: 0.0600 -> "6%", 0.0125 -> "1.25%"."""
    return f"{(rate * 100).normalize():f}%"


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = ["", "拾", "佰", "仟"]


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


def _integer_words(number: int) -> str:
    """Write a positive integer: 亿 over 万 over four-digit groups, one 零 per gap.

    A 零 goes between two parts when the lower part does not fill its places
    (壹佰万零伍佰, 壹亿零壹万); 亿 scales everything before it, so 10^12 is
    壹万亿 and 1,0001,0000,0000 is 壹万零壹亿.
    """
    if number >= 10**8:
        high, low = divmod(number, 10**8)
        words = _integer_words(high) + "亿"
        if low:
            words += ("零" if low < 10**7 else "") + _integer_words(low)
        return words
    if number >= 10**4:
        high, low = divmod(number, 10**4)
        words = _four_digits(high) + "万"
        if low:
            words += ("零" if low < 1000 else "") + _four_digits(low)
        return words
    return _four_digits(number)


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

    words = _integer_words(yuan) + "圆" if yuan else ""
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
