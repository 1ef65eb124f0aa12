"""The ledger: append in the writer's transaction, seal into signed Merkle heads, verify.

Entries are hash-chained per record: each carries the hash of the previous
entry of the same record, which that record's own row lock already orders, so
there is no global lock on the write path. A periodic task seals whatever was
written since the last seal into a Merkle tree (RFC 6962 hashing: leaves
``H(0x00 || entry_hash)``, nodes ``H(0x01 || left || right)``), chains the
head to the previous one and signs it with the platform key, as Certificate
Transparency logs do.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from core import merkle
from core.models import LedgerEntry, LedgerSeal, LedgerSealItem, NumberSequence
from core.signing import canonical_json, sha256_hex, sign, verify

logger = logging.getLogger(__name__)

SEAL_BATCH_LIMIT = 50_000


def _normalize_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """What JSONField gives back: Decimals and dates as strings."""
    result: dict[str, Any] = json.loads(canonical_json(payload))
    return result


def entry_hash_of(entry: LedgerEntry) -> str:
    """The hash over every column of the entry but its own hash."""
    created = entry.created_at.astimezone(UTC).isoformat()
    body = {
        "record_type": entry.record_type,
        "record_id": entry.record_id,
        "seq": entry.seq,
        "action": entry.action,
        "from_status": entry.from_status,
        "to_status": entry.to_status,
        "actor_id": entry.actor_id,
        "actor_label": entry.actor_label,
        "created_at": created,
        "payload_digest": entry.payload_digest,
        "prev_hash": entry.prev_hash,
    }
    return sha256_hex(b"ledger-entry-v1\n" + canonical_json(body))


def ledger_append(
    *,
    record: models.Model,
    action: str,
    actor: Any = None,
    from_status: str = "",
    to_status: str = "",
    payload: dict[str, Any] | None = None,
) -> LedgerEntry:
    """Append one entry for ``record``; call inside the transaction that changed it.

    The caller holds the record's row lock (or created the record in this
    transaction), which orders the chain; the unique (record, seq) constraint
    makes a race that slips past it fail loudly instead of forking the chain.
    """
    record_type = record._meta.label_lower
    record_id = str(record.pk)
    previous = (
        LedgerEntry.objects.filter(record_type=record_type, record_id=record_id)
        .order_by("-seq")
        .only("seq", "entry_hash")
        .first()
    )
    clean_payload = _normalize_payload(payload or {})
    actor_id = getattr(actor, "pk", None)
    entry = LedgerEntry(
        record_type=record_type,
        record_id=record_id,
        seq=(previous.seq + 1) if previous else 1,
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor_id=actor_id,
        actor_label=(actor.get_username() if actor_id else str(actor or "system"))[:150],
        payload=clean_payload,
        payload_digest=sha256_hex(canonical_json(clean_payload)),
        prev_hash=previous.entry_hash if previous else "",
        created_at=timezone.now(),
    )
    entry.entry_hash = entry_hash_of(entry)
    entry.save()
    return entry


def record_history(record: models.Model) -> list[LedgerEntry]:
    """A record's entries in order: its status history."""
    return list(
        LedgerEntry.objects.filter(
            record_type=record._meta.label_lower, record_id=str(record.pk)
        ).order_by("seq")
    )


# --- Merkle tree (RFC 6962 section 2.1) ------------------------------------------


def _leaf(entry_hash: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(entry_hash)).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(entry_hashes: Sequence[str]) -> str:
    """RFC 6962 Merkle Tree Hash of the leaves, split at the largest power of two."""
    if not entry_hashes:
        return hashlib.sha256(b"").hexdigest()

    def mth(leaves: Sequence[str]) -> bytes:
        if len(leaves) == 1:
            return _leaf(leaves[0])
        split = 1 << ((len(leaves) - 1).bit_length() - 1)
        return _node(mth(leaves[:split]), mth(leaves[split:]))

    return mth(entry_hashes).hex()


def head_body(seal: LedgerSeal) -> dict[str, Any]:
    """The signed fields of a head (version 2 adds the whole tree's ``root``)."""
    body: dict[str, Any] = {
        "tree_size": seal.tree_size,
        "batch_size": seal.batch_size,
        "batch_root": seal.batch_root,
        "prev_head": seal.prev_head,
        "created_at": seal.created_at.astimezone(UTC).isoformat(),
    }
    if seal.version >= 2:
        body["root"] = seal.root
    return body


def _head_message(seal: LedgerSeal) -> bytes:
    prefix = b"ledger-head-v2\n" if seal.version >= 2 else b"ledger-head-v1\n"
    return prefix + canonical_json(head_body(seal))


def sealed_entry_hashes(*, up_to_seal_id: int | None = None) -> list[str]:
    """Every sealed entry's hash in tree order (seal, then leaf), optionally up to a seal."""
    items = LedgerSealItem.objects.order_by("seal_id", "leaf_index")
    if up_to_seal_id is not None:
        items = items.filter(seal_id__lte=up_to_seal_id)
    return list(items.values_list("entry__entry_hash", flat=True).iterator(chunk_size=5000))


def _frontier_after(previous: LedgerSeal | None) -> merkle.Frontier:
    """The perfect subtrees of the whole tree at ``previous`` (rebuilt once after v1 heads)."""
    if previous is None:
        return []
    if previous.version >= 2:
        return merkle.frontier_load(previous.frontier)
    return merkle.frontier_extend(
        [], (merkle.leaf_hash(h) for h in sealed_entry_hashes(up_to_seal_id=previous.pk))
    )


@transaction.atomic
def ledger_seal() -> LedgerSeal | None:
    """Seal every entry not yet sealed into a signed head; None when there is nothing new.

    Before signing, the batch itself is checked (each entry's digests and its
    link to the previous entry of its record, and the previous head's
    signature), so a break is logged as an error within one sealing interval;
    ``ledger_verify`` re-checks everything.
    """
    lock, _ = NumberSequence.objects.get_or_create(key="ledger-seal")
    NumberSequence.objects.select_for_update().get(pk=lock.pk)
    entries = list(
        LedgerEntry.objects.filter(seal_item__isnull=True).order_by("id")[:SEAL_BATCH_LIMIT]
    )
    if not entries:
        return None
    previous = LedgerSeal.objects.order_by("-id").first()
    problem = _batch_problem(entries, previous)
    if problem:
        logger.error("Ledger verification failed: %s", problem)
    frontier = merkle.frontier_extend(
        _frontier_after(previous), (merkle.leaf_hash(e.entry_hash) for e in entries)
    )
    seal = LedgerSeal(
        created_at=timezone.now(),
        tree_size=(previous.tree_size if previous else 0) + len(entries),
        batch_size=len(entries),
        batch_root=merkle_root([e.entry_hash for e in entries]),
        prev_head=previous.head_hash if previous else "",
        version=2,
        root=merkle.frontier_root(frontier).hex(),
        frontier=merkle.frontier_dump(frontier),
    )
    message = _head_message(seal)
    seal.head_hash = sha256_hex(message)
    seal.signature = base64.b64encode(sign(message)).decode()
    seal.save()
    LedgerSealItem.objects.bulk_create(
        LedgerSealItem(seal=seal, entry_id=entry.pk, leaf_index=index)
        for index, entry in enumerate(entries)
    )
    return seal


def _entry_problem(entry: LedgerEntry, prev_hash: str | None, prev_seq: int) -> str | None:
    """What is wrong with one entry given its predecessor's hash and seq (None: nothing)."""
    if sha256_hex(canonical_json(entry.payload)) != entry.payload_digest:
        return "payload does not match its digest"
    if entry_hash_of(entry) != entry.entry_hash:
        return "entry hash does not match its content"
    if prev_hash is None or entry.prev_hash != prev_hash or entry.seq != prev_seq + 1:
        return "chain link to the previous entry is broken"
    return None


def _describe(entry: LedgerEntry, problem: str) -> str:
    return f"entry {entry.pk} ({entry}): {problem}"


def _batch_problem(entries: Sequence[LedgerEntry], previous: LedgerSeal | None) -> str | None:
    """The first problem among new entries (and the last head), reading only their neighbours."""
    if previous is not None and not verify(
        _head_message(previous), base64.b64decode(previous.signature)
    ):
        return f"seal {previous.pk}: head signature is not valid"
    by_type: dict[str, set[str]] = {}
    for entry in entries:
        by_type.setdefault(entry.record_type, set()).add(entry.record_id)
    hashes: dict[tuple[str, str, int], str] = {}
    for record_type, ids in by_type.items():
        id_list = sorted(ids)
        for start in range(0, len(id_list), 500):
            rows = LedgerEntry.objects.filter(
                record_type=record_type, record_id__in=id_list[start : start + 500]
            ).values_list("record_id", "seq", "entry_hash")
            for record_id, seq, entry_hash in rows:
                hashes[(record_type, record_id, seq)] = entry_hash
    for entry in entries:
        prev_hash = (
            ""
            if entry.seq == 1
            else hashes.get((entry.record_type, entry.record_id, entry.seq - 1))
        )
        problem = _entry_problem(entry, prev_hash, entry.seq - 1)
        if problem:
            return _describe(entry, problem)
    return None


# --- Verification -----------------------------------------------------------------


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of ``ledger verify``: counts and the first break, if any."""

    entries: int
    seals: int
    first_break: str | None

    @property
    def intact(self) -> bool:
        return self.first_break is None


def _iter_entries() -> Iterable[LedgerEntry]:
    return LedgerEntry.objects.order_by("record_type", "record_id", "seq").iterator(chunk_size=2000)


def ledger_verify() -> VerifyReport:
    """Recompute every chain and every sealed head; name the first broken entry or seal."""
    count = 0
    last_key: tuple[str, str] | None = None
    last_hash = ""
    last_seq = 0
    breaks: list[tuple[int, str]] = []
    for entry in _iter_entries():
        count += 1
        key = (entry.record_type, entry.record_id)
        if key != last_key:
            last_key, last_hash, last_seq = key, "", 0
        problem = _entry_problem(entry, last_hash, last_seq)
        if problem:
            breaks.append((entry.pk, _describe(entry, problem)))
        last_hash, last_seq = entry.entry_hash, entry.seq
    if breaks:
        return VerifyReport(entries=count, seals=0, first_break=min(breaks)[1])

    seals = 0
    prev_head = ""
    size = 0
    frontier: merkle.Frontier = []
    for seal in LedgerSeal.objects.order_by("id"):
        seals += 1
        hashes = list(
            LedgerSealItem.objects.filter(seal=seal)
            .order_by("leaf_index")
            .values_list("entry__entry_hash", flat=True)
        )
        size += len(hashes)
        frontier = merkle.frontier_extend(frontier, (merkle.leaf_hash(h) for h in hashes))
        message = _head_message(seal)
        problem = None
        if merkle_root(hashes) != seal.batch_root or len(hashes) != seal.batch_size:
            problem = "Merkle root does not match its entries"
        elif seal.version >= 2 and seal.root != merkle.frontier_root(frontier).hex():
            problem = "Merkle root does not match its entries"
        elif seal.prev_head != prev_head or seal.tree_size != size:
            problem = "head is not chained to the previous head"
        elif sha256_hex(message) != seal.head_hash or not verify(
            message, base64.b64decode(seal.signature)
        ):
            problem = "head signature is not valid"
        if problem:
            return VerifyReport(
                entries=count, seals=seals, first_break=f"seal {seal.pk}: {problem}"
            )
        prev_head = seal.head_hash
    return VerifyReport(entries=count, seals=seals, first_break=None)
