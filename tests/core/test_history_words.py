"""Ledger history reads as words on every page, in both languages, never as codes."""

from __future__ import annotations

from core.history import history_words, status_words


def test_a_refund_row_in_words():
    assert (
        history_words("refund_created", "pending")
        == "Refund created — pending · 退税已创建 — 处理中"
    )


def test_a_status_the_action_already_says_is_not_repeated():
    assert history_words("form_voided", "voided") == "Form voided · 申请单已作废"


def test_unknown_codes_still_read_as_words():
    assert history_words("guarantee_capture_declined", "awaiting_handover") == (
        "Guarantee capture declined — awaiting hand-over · 待交付"
    )
    assert status_words("some_new_state") == "some new state"
    assert "_" not in history_words("refund_handed_over", "paid")
