"""Ledger history in words, for pages: "Refund created — pending", never `refund_created`.

Staff pages are bilingual (English · 中文); an action or status without an entry here
still reads as words ("Guarantee capture declined"), never as a code.
"""

from __future__ import annotations

ACTION_WORDS: dict[str, tuple[str, str]] = {
    "form_issued": ("Form issued", "申请单已开具"),
    "form_voided": ("Form voided", "申请单已作废"),
    "form_verified": ("Verified by customs", "海关已验核"),
    "form_partially_verified": ("Partially verified by customs", "海关部分验核"),
    "form_rejected": ("Rejected by customs", "海关不予验核"),
    "form_refunded": ("Refunded", "已退税"),
    "invoice_issued": ("Invoice issued", "发票已开具"),
    "invoice_reversed": ("Invoice reversed (red-ink)", "发票已冲红"),
    "invoice_attached_to_form": ("Invoice attached", "发票已关联"),
    "inspection_decided": ("Inspection decided", "查验决定"),
    "verification_refused": ("Verification refused", "验核被拒"),
    "mailbox_batch_opened": ("Mailbox batch opened", "信箱批次已开启"),
    "mailbox_batch_closed": ("Mailbox batch closed", "信箱批次已关闭"),
    "mailbox_form_verified": ("Verified from the mailbox", "信箱单据已验核"),
    "mailbox_form_refused": ("Refused from the mailbox", "信箱单据被拒"),
    "refund_created": ("Refund created", "退税已创建"),
    "refund_paid": ("Refund paid", "退税已支付"),
    "refund_failed": ("Refund transfer failed", "退税转账失败"),
    "refund_refused": ("Refund refused", "退税被拒"),
    "refund_resent": ("Refund transfer re-sent", "退税转账已重发"),
    "refund_handed_over": ("Cash handed over", "现金已交付"),
    "prepayment_created": ("Prepayment created", "预付已创建"),
    "prepayment_paid": ("Prepayment paid", "预付已支付"),
    "prepayment_failed": ("Prepayment failed", "预付失败"),
    "prepayment_returned": ("Prepayment returned", "预付已退回"),
    "prepayment_abandoned": ("Prepayment abandoned", "预付已放弃"),
    "prepayment_handed_over": ("Prepayment cash handed over", "预付现金已交付"),
    "guarantee_created": ("Guarantee created", "担保已创建"),
    "guarantee_authorized": ("Card hold placed", "信用卡预授权已完成"),
    "guarantee_reauthorized": ("Card hold renewed", "预授权已续期"),
    "guarantee_reauthorization_declined": ("Hold renewal declined", "预授权续期被拒"),
    "guarantee_released": ("Card hold released", "预授权已释放"),
    "guarantee_captured": ("Card charged", "已从信用卡扣款"),
    "guarantee_partial_capture": ("Card partly charged", "已从信用卡部分扣款"),
    "guarantee_failed": ("Card hold declined", "预授权被拒"),
}

STATUS_WORDS: dict[str, tuple[str, str]] = {
    "issued": ("issued", "已开具"),
    "verified": ("verified", "已验核"),
    "partially_verified": ("partially verified", "部分验核"),
    "rejected": ("rejected", "不予验核"),
    "refunded": ("refunded", "已退税"),
    "voided": ("voided", "已作废"),
    "reversed": ("reversed", "已冲红"),
    "pending": ("pending", "处理中"),
    "paid": ("paid", "已支付"),
    "failed": ("failed", "失败"),
    "returned": ("returned", "已退回"),
    "awaiting_handover": ("awaiting hand-over", "待交付"),
    "authorized": ("authorized", "已预授权"),
    "reauthorized": ("re-authorized", "已续期"),
    "released": ("released", "已释放"),
    "captured": ("charged", "已扣款"),
    "partially_captured": ("partly charged", "部分扣款"),
    "open": ("open", "进行中"),
    "closed": ("closed", "已关闭"),
}


def _humanize(code: str) -> str:
    return code.replace("_", " ").strip().capitalize()


def action_words(action: str) -> str:
    """One ledger action in words: "Refund created · 退税已创建"."""
    words = ACTION_WORDS.get(action)
    return f"{words[0]} · {words[1]}" if words else _humanize(action)


def status_words(status: str) -> str:
    """One status in words: "pending · 处理中"."""
    words = STATUS_WORDS.get(status)
    return f"{words[0]} · {words[1]}" if words else _humanize(status).lower()


def history_words(action: str, to_status: str | None = None) -> str:
    """A history row: "Refund created — pending · 退税已创建 — 处理中"."""
    act = ACTION_WORDS.get(action)
    status = STATUS_WORDS.get(to_status or "")
    if not to_status or (act and status and status[0] in act[0].lower()):
        return action_words(action)  # "Form voided", not "Form voided — voided"
    if act and status:
        return f"{act[0]} — {status[0]} · {act[1]} — {status[1]}"
    return f"{action_words(action)} — {status_words(to_status)}"
