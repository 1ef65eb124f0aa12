"""Notices to travelers (SPEC §5): one record per (form, kind), sent once after commit.

``notice_create`` runs in the transaction of the change it reports and enqueues the
send after commit (ids only). ``notice_send`` claims the record (pending -> sending)
with a conditional update before sending, so a redelivered or duplicated task never
sends twice; a send that raised goes back to pending for a retry. A worker killed
between the send and its record leaves the notice ``sending``: it is not sent again
(at most once: a traveler never gets the same notice twice).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.money import money_str
from stores.models import RefundForm
from travelers.messaging import MessageError, TemplateMessage, message_gateway
from travelers.models import Notice, NoticeKind, NoticeState, TravelerPage

logger = logging.getLogger(__name__)


def _page_for(form: RefundForm) -> TravelerPage | None:
    try:
        return form.traveler_page  # no query when the caller's form read brought it along
    except TravelerPage.DoesNotExist:
        return None


def notice_create(
    *, form: RefundForm, kind: str, page: TravelerPage | None = None, check: bool = True
) -> bool:
    """Record a notice and send it after the caller's transaction commits.

    False when the traveler gave no address (or unsubscribed), or (``check``) the notice
    exists already. ``check=False`` skips that read for a form created in this very
    transaction; the unique constraint still keeps it to one.
    """
    page = page or _page_for(form)
    if page is None or page.unsubscribed_at is not None or not (page.email or page.phone):
        return False
    if check and Notice.objects.filter(form=form, kind=kind).exists():
        return False
    Notice.objects.bulk_create(
        [
            Notice(
                form=form,
                kind=kind,
                language=page.language,
                channel="email" if page.email else "sms",
            )
        ],
        ignore_conflicts=True,  # a concurrent request recorded it: sent once all the same
    )
    from travelers.tasks import enqueue_notice_send

    form_id = form.pk
    transaction.on_commit(lambda: enqueue_notice_send(form_id, kind), robust=True)
    return True


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def page_url(page: TravelerPage) -> str:
    return settings.TRAVELER_PAGE_BASE_URL.rstrip("/") + page.path


def notice_render(notice: Notice, page: TravelerPage) -> Rendered:
    """The notice's subject and text in the traveler's language."""
    from travelers.selectors import form_view

    form = notice.form
    with translation.override(notice.language):
        view = form_view(form)
        number = form.number
        values = {
            "number": number,
            "estimate": money_str(form.net_refund),
            "verified": view.money["verified"],
            "paid": view.money["paid"],
            "how": view.paid_how,
            "deadline": view.deadline.isoformat() if view.deadline else "",
            "hold": view.money["hold"],
            "captured": view.money["captured"],
        }
        subjects = {
            NoticeKind.FORM_ISSUED: _("Your tax refund form %(number)s"),
            NoticeKind.FORM_VERIFIED: _("Customs verified your form %(number)s"),
            NoticeKind.REFUND_PAID: _("Your tax refund is paid: RMB %(paid)s"),
            NoticeKind.PAYOUT_FAILED: _("Your transfer could not be paid: please see the counter"),
            NoticeKind.HOLD_PLACED: _("Card hold placed for your Buy & Refund form %(number)s"),
            NoticeKind.DEADLINE_REMINDER: _("Reminder: leave China by %(deadline)s"),
            NoticeKind.HOLD_RELEASED: _("Your card hold is released"),
            NoticeKind.CARD_CHARGED: _("Your card was charged RMB %(captured)s"),
        }
        lines = {
            NoticeKind.FORM_ISSUED: _(
                "The store issued your tax refund form %(number)s. Estimated refund: RMB"
                " %(estimate)s. Follow it on your phone:"
            ),
            NoticeKind.FORM_VERIFIED: _(
                "Customs verified your form %(number)s: goods worth RMB %(verified)s."
            ),
            NoticeKind.REFUND_PAID: _(
                "Your refund for form %(number)s is paid: RMB %(paid)s by %(how)s."
            ),
            NoticeKind.PAYOUT_FAILED: _(
                "The transfer you chose for form %(number)s could not be paid. Please go to"
                " the refund counter at the port."
            ),
            NoticeKind.HOLD_PLACED: _(
                "A hold of RMB %(hold)s is on your card for form %(number)s. Leave China"
                " through a Buy & Refund port by %(deadline)s and show the form to customs;"
                " the hold is then released."
            ),
            NoticeKind.DEADLINE_REMINDER: _(
                "Form %(number)s: show it to customs when you leave, by %(deadline)s, or your"
                " card is charged RMB %(hold)s."
            ),
            NoticeKind.HOLD_RELEASED: _(
                "The hold on your card for form %(number)s is released. You keep your refund."
            ),
            NoticeKind.CARD_CHARGED: _(
                "Your card was charged RMB %(captured)s for form %(number)s: customs did not"
                " verify (all) the goods in time."
            ),
        }
        body = [lines[NoticeKind(notice.kind)] % values]
        if notice.kind == NoticeKind.REFUND_PAID and view.paid is not None:
            if view.paid < form.net_refund:
                body.append(
                    _("The form estimated RMB %(estimate)s; you were paid less because:") % values
                )
                body.extend(f"- {reason}" for reason in view.differences)
        body += [
            "",
            page_url(page),
            "",
            _("No more emails:") + " " + page_url(page) + "unsubscribe/",
        ]
        return Rendered(subject=subjects[NoticeKind(notice.kind)] % values, body="\n".join(body))


def _claim(notice_id: int) -> bool:
    return bool(
        Notice.objects.filter(pk=notice_id, state=NoticeState.PENDING).update(
            state=NoticeState.SENDING, attempts=F("attempts") + 1
        )
    )


def notice_send(*, notice_id: int) -> str:
    """Send one notice at most once; returns its state. Raises for a retry on a send error."""
    if not _claim(notice_id):
        return str(Notice.objects.filter(pk=notice_id).values_list("state", flat=True).first())
    notice = Notice.objects.select_related("form").get(pk=notice_id)
    page = _page_for(notice.form)
    if page is None or page.unsubscribed_at is not None or not (page.email or page.phone):
        Notice.objects.filter(pk=notice_id).update(state=NoticeState.SKIPPED)
        return NoticeState.SKIPPED
    rendered = notice_render(notice, page)
    try:
        if page.email:
            url = page_url(page) + "unsubscribe/"
            EmailMessage(
                subject=rendered.subject,
                body=rendered.body,
                to=[page.email],
                headers={"List-Unsubscribe": f"<{url}>"},
            ).send()
        else:
            message_gateway().send(
                TemplateMessage(
                    channel="sms",
                    recipient=page.phone,
                    template=notice.kind,
                    language=notice.language,
                    params={"form": notice.form.number},
                    text=rendered.subject,
                )
            )
    except (OSError, MessageError) as exc:
        Notice.objects.filter(pk=notice_id).update(state=NoticeState.PENDING, error=str(exc)[:300])
        raise
    Notice.objects.filter(pk=notice_id).update(
        state=NoticeState.SENT, sent_at=timezone.now(), error=""
    )
    logger.info("notice %s (%s) sent for form %s", notice_id, notice.kind, notice.form_id)
    return NoticeState.SENT


def notice_give_up(*, notice_id: int, error: str) -> None:
    """After the last retry: failed, never sent."""
    Notice.objects.filter(pk=notice_id, state=NoticeState.PENDING).update(
        state=NoticeState.FAILED, error=error[:300]
    )
