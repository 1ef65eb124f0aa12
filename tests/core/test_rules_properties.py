"""Properties of the computation and of the amount in words, for any input hypothesis finds."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from core.money import amount_in_words, money_str, quantize_money
from core.rules import LineFacts, compute_refund
from tests.core.test_rules import P2015, P2019, P2025

D = Decimal
HALF_CENT = D("0.005")

# VAT-inclusive line totals as a till produces them: 0.01 .. 999,999.99
totals = st.decimals(min_value=D("0.01"), max_value=D("999999.99"), places=2)
policies = st.sampled_from([P2015, P2019, P2025])
fee_rates = st.sampled_from([D("0"), D("0.015"), D("0.02"), D("0.03")])


@st.composite
def forms(draw):
    """A policy and 1..12 lines at VAT rates that policy refunds."""
    policy = draw(policies)
    rates = sorted(policy.refund_rates)
    lines = draw(
        st.lists(
            st.builds(LineFacts, vat_rate=st.sampled_from(rates), total=totals),
            min_size=1,
            max_size=12,
        )
    )
    return policy, lines


def is_money(value: Decimal) -> bool:
    return value.as_tuple().exponent == -2


@given(forms(), fee_rates)
def test_net_at_most_refundable_at_most_eleven_percent(form, fee_rate):
    policy, lines = form
    result = compute_refund(lines, policy=policy, fee_rate=fee_rate)
    groups = len(result.groups)
    assert D("0") <= result.net <= result.refundable
    # every refund rate is at most 11%; rounding each group half-up adds at most half a cent
    assert result.refundable <= result.total * D("0.11") + HALF_CENT * groups
    assert result.total == quantize_money(sum((line.total for line in lines), D("0")))


@given(forms(), fee_rates)
def test_amounts_always_have_two_decimals(form, fee_rate):
    policy, lines = form
    result = compute_refund(lines, policy=policy, fee_rate=fee_rate)
    values = [result.total, result.refundable, result.fee, result.net]
    for group in result.groups:
        values += [group.total, group.refundable, group.fee, group.net]
    assert all(is_money(v) for v in values)
    assert all(money_str(v) == str(v) for v in values)


@given(forms(), fee_rates)
def test_splitting_by_rate_group_stays_within_the_rounding_bound(form, fee_rate):
    policy, lines = form
    whole = compute_refund(lines, policy=policy, fee_rate=fee_rate)
    groups = len(whole.groups)
    # each rate group computed as a form of its own sums to exactly the whole form
    parts = [
        compute_refund([x for x in lines if x.vat_rate == rate], policy=policy, fee_rate=fee_rate)
        for rate in {line.vat_rate for line in lines}
    ]
    assert sum((p.refundable for p in parts), D("0")) == whole.refundable
    assert sum((p.fee for p in parts), D("0")) == whole.fee
    assert sum((p.net for p in parts), D("0")) == whole.net
    # and differs from the unrounded figures by at most 0.005 per group per amount
    exact_refundable = sum((x.total * policy.refund_rates[x.vat_rate] for x in lines), D("0"))
    exact_fee = sum((x.total * fee_rate for x in lines), D("0"))
    assert abs(whole.refundable - exact_refundable) <= HALF_CENT * groups
    assert abs(whole.fee - exact_fee) <= HALF_CENT * groups
    assert abs(whole.net - (exact_refundable - exact_fee)) <= 2 * HALF_CENT * groups


@given(forms(), fee_rates, st.randoms())
def test_line_order_never_changes_the_result(form, fee_rate, rnd):
    policy, lines = form
    shuffled = list(lines)
    rnd.shuffle(shuffled)
    assert compute_refund(lines, policy=policy, fee_rate=fee_rate) == compute_refund(
        shuffled, policy=policy, fee_rate=fee_rate
    )


# --- Amount in Chinese capital numerals -------------------------------------------------

_DIGITS = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
_UNITS = {"拾": 10, "佰": 100, "仟": 1000}


def parse_words(words: str) -> Decimal:
    """An independent reader of the invoice's capital numerals (for the round trip)."""
    sign = -1 if words.startswith("负") else 1
    words = words.removeprefix("负").removesuffix("整")
    yuan_part, _, cents_part = words.partition("圆")
    if "圆" not in words:  # cents only, e.g. 伍角
        yuan_part, cents_part = "", words
    total = section = number = 0
    for char in yuan_part:
        if char in _DIGITS:
            number = _DIGITS[char]
        elif char in _UNITS:
            section += number * _UNITS[char]
            number = 0
        elif char == "万":
            section = (section + number) * 10_000
            number = 0
        elif char == "亿":
            total = (total + section + number) * 100_000_000
            section = number = 0
        else:
            raise AssertionError(f"unexpected {char!r} in {words}")
    yuan = total + section + number
    cents = 0
    digit = 0
    for char in cents_part:
        if char in _DIGITS:
            digit = _DIGITS[char]
        elif char == "角":
            cents += digit * 10
        elif char == "分":
            cents += digit
        else:
            raise AssertionError(f"unexpected {char!r} in {words}")
    return sign * (D(yuan) + D(cents) / 100)


KNOWN = [
    ("1239", "壹仟贰佰叁拾玖圆整"),
    ("100000", "壹拾万圆整"),
    ("1002003.07", "壹佰万贰仟零叁圆零柒分"),
    ("200", "贰佰圆整"),
    ("3600", "叁仟陆佰圆整"),
    ("22.00", "贰拾贰圆整"),
    ("10.10", "壹拾圆壹角整"),
    ("0.50", "伍角整"),
    ("0.05", "伍分"),
    ("0", "零圆整"),
    ("1005", "壹仟零伍圆整"),
    ("10050", "壹万零伍拾圆整"),
    ("10000100", "壹仟万零壹佰圆整"),
    ("100010000", "壹亿零壹万圆整"),
    ("105000", "壹拾万伍仟圆整"),
    ("1000500", "壹佰万零伍佰圆整"),
    ("123456789.12", "壹亿贰仟叁佰肆拾伍万陆仟柒佰捌拾玖圆壹角贰分"),
    ("1234500000000", "壹万贰仟叁佰肆拾伍亿圆整"),
    ("1000000000000", "壹万亿圆整"),
    ("-12.30", "负壹拾贰圆叁角整"),
]


def test_known_amounts_in_words():
    for amount, words in KNOWN:
        assert amount_in_words(D(amount)) == words, amount
        assert parse_words(words) == D(amount)


amounts = st.decimals(min_value=D("-999999999999.99"), max_value=D("99999999999999.99"), places=2)


@given(amounts)
@example(D("1002003.07"))
@example(D("100000"))
@example(D("1239"))
def test_amount_in_words_round_trips(amount):
    words = amount_in_words(amount)
    assert parse_words(words) == amount


@given(amounts)
def test_zero_rules(amount):
    words = amount_in_words(amount)
    body = words.removeprefix("负")
    # 零 never doubles, never ends the integer part, never starts a non-zero amount
    assert "零零" not in words
    assert "零圆" not in body or body == "零圆整"
    assert not body.startswith("零") or body == "零圆整"
    # whole amounts end in 整; amounts with fen end in 分
    if amount == amount.to_integral_value():
        assert words.endswith("圆整")
    elif (abs(amount) * 100) % 10:
        assert words.endswith("分")
