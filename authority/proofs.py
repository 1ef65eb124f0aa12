"""Ledger proofs anyone can check: inclusion of a record's entries, consistency of heads.

A proof carries each entry's full content (so a verifier recomputes its hash
instead of trusting it), its RFC 6962 audit path to the root of the signed
head that sealed it, and that head with its Ed25519 signature. Heads sealed
before version 2 (which signed only their batch) are proved against the first
version 2 head after them, which covers every earlier entry. Unsealed entries
come with ``head: null``. ``scripts/verify_proof.py`` checks a saved proof with
the key from ``/api/v1/keys/`` and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.db import models

from agencies.models import Refund
from agencies.selectors import refunds_in_scope
from core import merkle
from core.ledger import head_body, sealed_entry_hashes
from core.models import LedgerEntry, LedgerSeal, StaffMembership
from core.signing import platform_public_key_b64
from stores.models import RefundForm, VatInvoice
from stores.scopes import forms_in_scope, invoices_in_scope

PROOF_FORMAT = "refund-ledger-proof/1"
CONSISTENCY_FORMAT = "refund-ledger-consistency/1"
KINDS = ("forms", "invoices", "refunds")


def proof_record(*, kind: str, ident: str) -> models.Model | None:
    """The form or invoice (by number) or refund (by id) a proof is asked for, or None."""
    if kind == "forms":
        return RefundForm.objects.filter(number=ident).first()
    if kind == "invoices":
        return VatInvoice.objects.filter(number=ident).first()
    if kind == "refunds":
        if not ident.isdigit() or len(ident) > 18:
            return None
        return Refund.objects.select_related("form").filter(pk=int(ident)).first()
    return None


def may_read_record(*, membership: StaffMembership, record: models.Model) -> bool:
    """Who may fetch a record's proof: whoever may read the record (stores.scopes: the
    analyst all; a form's store, port and agency scope; a refund's agency)."""
    if isinstance(record, RefundForm):
        return forms_in_scope(membership=membership).filter(pk=record.pk).exists()
    if isinstance(record, VatInvoice):
        return invoices_in_scope(membership=membership).filter(pk=record.pk).exists()
    if isinstance(record, Refund):
        return refunds_in_scope(membership=membership).filter(pk=record.pk).exists()
    return False


def head_dict(seal: LedgerSeal) -> dict[str, Any]:
    """A signed head as a verifier needs it: every signed field, the hash and signature."""
    return {
        "version": seal.version,
        **head_body(seal),
        "head_hash": seal.head_hash,
        "signature": seal.signature,
    }


def entry_content(entry: LedgerEntry) -> dict[str, Any]:
    """Every column the entry hash covers, as hashed (``created_at`` in UTC ISO 8601)."""
    return {
        "record_type": entry.record_type,
        "record_id": entry.record_id,
        "seq": entry.seq,
        "action": entry.action,
        "from_status": entry.from_status,
        "to_status": entry.to_status,
        "actor_id": entry.actor_id,
        "actor_label": entry.actor_label,
        "created_at": entry.created_at.astimezone(UTC).isoformat(),
        "payload": entry.payload,
        "payload_digest": entry.payload_digest,
        "prev_hash": entry.prev_hash,
    }


@dataclass
class _Tree:
    """Leaf hashes of the sealed tree, read once per request up to the largest head needed."""

    leaves: list[bytes]

    @classmethod
    def up_to(cls, seal_id: int) -> _Tree:
        return cls([merkle.leaf_hash(h) for h in sealed_entry_hashes(up_to_seal_id=seal_id)])


def _proving_head(seal: LedgerSeal, cache: dict[int, LedgerSeal | None]) -> LedgerSeal | None:
    """The head an entry sealed by ``seal`` is proved against (first v2 head from it on)."""
    if seal.version >= 2:
        return seal
    if seal.pk not in cache:
        cache[seal.pk] = LedgerSeal.objects.filter(pk__gt=seal.pk, version__gte=2).first()
    return cache[seal.pk]


def record_proof(record: models.Model) -> dict[str, Any]:
    """The SPEC §4 proof of every ledger entry of ``record``."""
    entries = list(
        LedgerEntry.objects.filter(record_type=record._meta.label_lower, record_id=str(record.pk))
        .select_related("seal_item__seal")
        .order_by("seq")
    )
    cache: dict[int, LedgerSeal | None] = {}
    planned: list[tuple[LedgerEntry, LedgerSeal | None, int | None]] = []
    for entry in entries:
        item = getattr(entry, "seal_item", None)
        if item is None:
            planned.append((entry, None, None))
            continue
        seal = item.seal
        index = seal.tree_size - seal.batch_size + item.leaf_index
        planned.append((entry, _proving_head(seal, cache), index))
    heads = [head for _, head, _ in planned if head is not None]
    tree = _Tree.up_to(max(h.pk for h in heads)) if heads else _Tree([])
    out = []
    for entry, head, index in planned:
        path: list[str] = []
        if head is not None and index is not None:
            path = [p.hex() for p in merkle.audit_path(index, tree.leaves[: head.tree_size])]
        out.append(
            {
                "seq": entry.seq,
                "action": entry.action,
                "entry_hash": entry.entry_hash,
                "leaf_index": index if head is not None else None,
                "audit_path": path,
                "head": head_dict(head) if head is not None else None,
                "entry": entry_content(entry),
            }
        )
    return {
        "format": PROOF_FORMAT,
        "record": {"type": record._meta.label_lower, "id": str(record.pk)},
        "entries": out,
        "algorithm": "Ed25519",
        "public_key": platform_public_key_b64(),
    }


class HeadNotFound(LookupError):
    """No version 2 head has that tree size."""


def consistency(*, first: int, second: int) -> dict[str, Any]:
    """RFC 6962 §2.1.2 proof that the head of size ``first`` is a prefix of that of ``second``."""
    heads = {
        seal.tree_size: seal
        for seal in LedgerSeal.objects.filter(tree_size__in=[first, second], version__gte=2)
    }
    if first not in heads or second not in heads:
        missing = first if first not in heads else second
        raise HeadNotFound(missing)
    old, new = heads[first], heads[second]
    tree = _Tree.up_to(new.pk)
    proof = merkle.consistency_proof(first, tree.leaves[:second])
    return {
        "format": CONSISTENCY_FORMAT,
        "first": head_dict(old),
        "second": head_dict(new),
        "proof": [p.hex() for p in proof],
        "algorithm": "Ed25519",
        "public_key": platform_public_key_b64(),
    }


def latest_heads(*, limit: int = 20) -> list[LedgerSeal]:
    """The latest signed heads (version 2), newest first."""
    return list(LedgerSeal.objects.filter(version__gte=2).order_by("-id")[:limit])
