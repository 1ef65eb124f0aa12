"""customs.api.serializers.verification_in: the usual body read by hand gives exactly what
``VerificationIn`` validates; everything else is the serializer's (replies and errors)."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from core.numbering import form_number
from customs.api.serializers import VerificationIn, _verification_in_by_hand, verification_in

NUMBER = form_number(region_code="31", issued_on=date(2026, 11, 30), sequence=7)
QR = "RF1" + NUMBER + "A" * 128


def serializer_result(data: Any) -> dict[str, Any] | None:
    serializer = VerificationIn(data=data)
    return dict(serializer.validated_data) if serializer.is_valid() else None


def test_the_usual_body_is_read_by_hand_as_the_serializer_reads_it():
    body = {"form": NUMBER, "qr": QR, "departure_date": "2026-11-30", "flight": "MU501"}
    by_hand = _verification_in_by_hand(body)
    assert by_hand is not None
    assert by_hand == serializer_result(body)
    assert by_hand == {
        "form": NUMBER,
        "qr": QR,
        "departure_date": date(2026, 11, 30),
        "flight": "MU501",
        "traveler_matches": True,
    }


def test_anything_unusual_is_left_to_the_serializer():
    base = {"form": NUMBER, "qr": QR, "departure_date": "2026-11-30"}
    for unusual in (
        {**base, "lines": [{"id": 1, "quantity_presented": "1.00"}]},
        {**base, "flight": " MU501 "},  # DRF trims
        {**base, "flight": "MU5019999999999999"},  # too long
        {**base, "traveler_matches": "false"},  # DRF coerces
        {**base, "qr": ""},
        {**base, "departure_date": "2026-02-30"},
        {**base, "departure_date": "1999-12-31"},
        {**base, "form": NUMBER[:-1] + str((int(NUMBER[-1]) + 1) % 10)},
        {**base, "form": "\uff11" * 16},  # full-width digits
        {**base, "extra": 1},
        {**base, "document_number": "18AB\x0012345"},
    ):
        assert _verification_in_by_hand(unusual) is None, unusual


def test_errors_are_the_serializers():
    body = {"form": NUMBER, "qr": QR, "departure_date": "2026-02-30", "extra": 1}
    try:
        verification_in(body)
    except ValidationError as error:
        assert set(error.detail) == {"departure_date", "extra"}  # type: ignore[arg-type]
    else:
        raise AssertionError("accepted")


text = st.one_of(
    st.sampled_from(["", " ", "MU501", " MU501", "18AB12345", QR, NUMBER, "a\x00b", "x" * 41]),
    st.text(max_size=20),
    st.integers(),
    st.none(),
    st.booleans(),
)
bodies = st.dictionaries(
    st.sampled_from(
        ["form", "qr", "document_number", "departure_date", "flight", "traveler_matches", "x"]
    ),
    st.one_of(
        text,
        st.sampled_from(
            [NUMBER, QR, "2026-11-30", "20261130", "2026-11-31", "2101-01-01", True, False]
        ),
    ),
)


@settings(max_examples=400, deadline=None)
@given(bodies)
def test_by_hand_agrees_with_the_serializer(body: dict[str, Any]) -> None:
    by_hand = _verification_in_by_hand(body)
    if by_hand is not None:
        assert by_hand == serializer_result(body), body
