"""Who sees what (SPEC §3), in one place: every API view and page asks these selectors.

- a clerk: the forms and invoices of their own store;
- an officer: forms verified or presented at their own port;
- an agent: forms of the stores their agency serves, and forms verified or presented at
  the ports their agency serves (or at the agency's own counter);
- an analyst (tax authority): every form and invoice, read-only;
- anyone else: nothing.

"Presented" is a fact in the database (``FormPresentation``): the form's signed QR was
scanned, or its number was typed together with the full document number of the passport
in hand. Typing a number alone brings nothing into scope, so walking form numbers shows
nothing. A form out of scope is the same 404 as a form that does not exist.

Every staff read of a traveler's personal data is recorded (``PersonalDataRead``): lists
in one INSERT. The full document number is shown only to an officer or agent whose port
or agency has the form presented (``document_number_for``).

Customs' verification is read through the reverse relation ``verification`` (a string
lookup), so this module imports nothing from customs.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from core.crypto import decrypt_document, document_hash, normalize_document_number
from core.models import Agency, Port, StaffMembership, StaffRole
from stores.countries import country_names
from stores.exceptions import FormNotFound
from stores.models import (
    FormPresentation,
    PersonalDataRead,
    PresentationHow,
    ReadReason,
    RefundForm,
    RefundFormLine,
    VatInvoice,
)

__all__ = [
    "PresentationHow",
    "ReadReason",
    "document_number_for",
    "form_in_scope_or_404",
    "form_matching_document",
    "form_presented_to",
    "forms_in_scope",
    "invoices_in_scope",
    "nationality_label",
    "personal_data_reads_record",
    "presentation_record",
    "scope_allows_reads",
]


def scope_allows_reads(membership: StaffMembership | None) -> bool:
    """The membership has a place (or is the authority): it may read what its scope holds."""
    if membership is None:
        return False
    if membership.role == StaffRole.ANALYST:
        return True
    return bool(membership.store_id or membership.port_id or membership.agency_id)


def _presented_at(*, port_id: int | None = None, agency_id: int | None = None) -> Exists:
    presentations = FormPresentation.objects.filter(form=OuterRef("pk"))
    if port_id is not None:
        presentations = presentations.filter(port_id=port_id)
    if agency_id is not None:
        presentations = presentations.filter(Q(agency_id=agency_id) | Q(port__agency_id=agency_id))
    return Exists(presentations)


def forms_in_scope(*, membership: StaffMembership | None) -> QuerySet[RefundForm]:
    """Every form the member may read (SPEC §3); none for anyone without a place.

    The tax authority's analyst (``role == "analyst"``) reads every form: the authority
    pages and API call this same selector, read-only.
    """
    forms = RefundForm.objects.all()
    if membership is None:
        return forms.none()
    role = membership.role
    if role == StaffRole.ANALYST:
        return forms
    if role == StaffRole.CLERK and membership.store_id:
        return forms.filter(store_id=membership.store_id)
    if role == StaffRole.OFFICER and membership.port_id:
        return forms.filter(
            Q(verification__port_id=membership.port_id) | _presented_at(port_id=membership.port_id)
        )
    if role == StaffRole.AGENT and membership.agency_id:
        agency_id = membership.agency_id
        return forms.filter(
            Q(store__serving_agency_id=agency_id)
            | Q(verification__port__agency_id=agency_id)
            | _presented_at(agency_id=agency_id)
        )
    return forms.none()


def form_in_scope_or_404(*, membership: StaffMembership | None, number: str) -> RefundForm:
    """The form with what its detail shows, or 404 ``form_not_found`` (missing or out of scope)."""
    form = (
        forms_in_scope(membership=membership)
        .select_related("store", "store__serving_agency", "issued_by", "policy")
        .prefetch_related(
            Prefetch("lines", queryset=RefundFormLine.objects.order_by("position")),
            Prefetch(
                "invoices",
                queryset=VatInvoice.objects.select_related("red_invoice").order_by("number"),
            ),
        )
        .filter(number=str(number).strip()[:32])
        .first()
    )
    if form is None:
        raise FormNotFound(
            f"No refund form {str(number)[:32]}.", extra={"number": str(number)[:32]}
        )
    return form


def invoices_in_scope(*, membership: StaffMembership | None) -> QuerySet[VatInvoice]:
    """Invoices the member may read: a clerk's store's; every invoice for the analyst."""
    invoices = VatInvoice.objects.all()
    if membership is None:
        return invoices.none()
    if membership.role == StaffRole.ANALYST:
        return invoices
    if membership.role == StaffRole.CLERK and membership.store_id:
        return invoices.filter(store_id=membership.store_id)
    return invoices.none()


# --- Presentations ---------------------------------------------------------------------


def form_matching_document(*, number: str, document_number: str) -> RefundForm | None:
    """The form whose number AND full document number match what was typed, or None.

    The damaged-QR path: a typed number alone matches nothing.
    """
    if not document_number or not normalize_document_number(document_number):
        return None
    form = RefundForm.objects.select_related("store").filter(number=number.strip()[:32]).first()
    if form is None or document_hash(document_number) != form.document_hash:
        return None
    return form


def presentation_record(
    *,
    form: RefundForm,
    user: User | None,
    how: str,
    port: Port | None = None,
    agency: Agency | None = None,
) -> FormPresentation:
    """Record that ``form`` was presented (QR scanned or number + document typed) here."""
    if port is None and agency is None:
        raise ValueError("A presentation happens at a port or an agency counter.")
    return FormPresentation.objects.create(
        form=form,
        user=user if user is not None and user.is_authenticated else None,
        port=port,
        agency=agency,
        how=PresentationHow(how),
    )


def form_presented_to(*, membership: StaffMembership | None, form: RefundForm) -> bool:
    """The member's own port (officer) or agency counter (agent) has the form presented."""
    if membership is None:
        return False
    presentations = FormPresentation.objects.filter(form_id=form.pk)
    if membership.role == StaffRole.OFFICER and membership.port_id:
        return presentations.filter(port_id=membership.port_id).exists()
    if membership.role == StaffRole.AGENT and membership.agency_id:
        return presentations.filter(agency_id=membership.agency_id).exists()
    return False


def document_number_for(*, membership: StaffMembership | None, form: RefundForm) -> str | None:
    """The full document number, only for an officer or agent who has the form presented."""
    if not form_presented_to(membership=membership, form=form):
        return None
    return decrypt_document(form.document_number_encrypted)


def nationality_label(code: str) -> str:
    """ "JP Japan": the code with its English name (the code alone if unknown)."""
    names = country_names(code or "")
    return f"{code} {names[0]}" if names else code


# --- The read audit --------------------------------------------------------------------


def personal_data_reads_record(
    *,
    user: User,
    membership: StaffMembership | None,
    forms: Iterable[RefundForm | int],
    reason: str,
    unmasked: bool = False,
) -> int:
    """Record that ``user`` read these forms' personal data, in one INSERT; returns the count."""
    ids = []
    for item in forms:
        pk = item if isinstance(item, int) else item.pk
        if pk is not None and pk not in ids:
            ids.append(pk)
    if not ids or not user.is_authenticated:
        return 0
    role = membership.role if membership is not None else ("admin" if user.is_superuser else "")
    reason_value = ReadReason(reason)
    PersonalDataRead.objects.bulk_create(
        [
            PersonalDataRead(
                user_id=user.pk, role=role, form_id=pk, reason=reason_value, unmasked=unmasked
            )
            for pk in ids
        ]
    )
    return len(ids)
