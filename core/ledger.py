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
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.db import connections, models, router, transaction
from django.db.models.functions import Cast
from django.utils import timezone

from core import merkle
from core.models import LedgerEntry, LedgerHead, LedgerSeal, LedgerSealItem, NumberSequence
from core.signing import canonical_json, sha256_hex, sign, verify
from core.sql import insert_rows

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


@dataclass
class LedgerItem:
    """One entry to append: what ``ledger_append`` takes, for ``ledger_append_many``."""

    record: models.Model
    action: str
    actor: Any = None
    from_status: str = ""
    to_status: str = ""
    payload: dict[str, Any] | None = None
    created: bool = False


def _key(record: models.Model) -> tuple[str, str]:
    return record._meta.label_lower, str(record.pk)


def _chain_heads(records: Sequence[models.Model]) -> dict[tuple[str, str], tuple[int, str]]:
    """The last (seq, hash) of each record's chain, read from the ledger in one statement."""
    condition = models.Q()
    by_type: dict[str, list[str]] = {}
    for record in records:
        record_type, record_id = _key(record)
        by_type.setdefault(record_type, []).append(record_id)
    for record_type, ids in by_type.items():
        condition |= models.Q(record_type=record_type, record_id__in=ids)
    heads: dict[tuple[str, str], tuple[int, str]] = {}
    rows = LedgerEntry.objects.filter(condition).values_list(
        "record_type", "record_id", "seq", "entry_hash"
    )
    for record_type, record_id, seq, entry_hash in rows:
        if seq > heads.get((record_type, record_id), (0, ""))[0]:
            heads[(record_type, record_id)] = (seq, entry_hash)
    return heads


def ledger_entries_build(items: Sequence[LedgerItem]) -> list[LedgerEntry]:
    """The entries for ``items`` (in order), chained to each record's head; nothing saved.

    A record carrying its head (``LedgerHead`` with ``ledger_seq`` > 0) gives it from its
    row; one created in this transaction (``created``) starts its chain; any other record's
    head is read from the ledger, all of them in one statement. Each record's in-memory
    head moves to its new entry: the caller saves it with the record (``transition`` does),
    or ``ledger_append_many`` writes it.
    """
    heads: dict[tuple[str, str], tuple[int, str]] = {}
    unknown = []
    for item in items:
        record: Any = item.record
        if getattr(record, "ledger_seq", 0):
            heads[_key(record)] = (record.ledger_seq, record.ledger_hash)
        elif hasattr(record, "ledger_chain_seq"):  # read with the row: ledger_head_annotate
            heads[_key(record)] = (record.ledger_chain_seq or 0, record.ledger_chain_hash or "")
        elif not item.created:
            unknown.append(record)
    if unknown:
        heads = {**_chain_heads(unknown), **heads}
    now = timezone.now()
    entries = []
    for item in items:
        record_type, record_id = _key(item.record)
        previous_seq, previous_hash = heads.get((record_type, record_id), (0, ""))
        clean_payload = _normalize_payload(item.payload or {})
        actor = item.actor
        actor_id = getattr(actor, "pk", None)
        entry = LedgerEntry(
            record_type=record_type,
            record_id=record_id,
            seq=previous_seq + 1,
            action=item.action,
            from_status=item.from_status,
            to_status=item.to_status,
            actor_id=actor_id,
            actor_label=(actor.get_username() if actor_id else str(actor or "system"))[:150],
            payload=clean_payload,
            payload_digest=sha256_hex(canonical_json(clean_payload)),
            prev_hash=previous_hash,
            created_at=now,
        )
        entry.entry_hash = entry_hash_of(entry)
        heads[(record_type, record_id)] = (entry.seq, entry.entry_hash)
        if isinstance(item.record, LedgerHead):
            item.record.ledger_seq, item.record.ledger_hash = entry.seq, entry.entry_hash
        entries.append(entry)
    return entries


class _Batch(threading.local):
    pending: list[LedgerEntry] | None = None


_batch = _Batch()


@contextmanager
def ledger_batch() -> Iterator[None]:
    """Within the block, entries are collected and inserted at its end in one statement.

    Use it inside the transaction (the block must end before it commits): a request's
    entries (a decision and a status change, a refund's creation and its payment) then
    cost one multi-row INSERT. Nested blocks join the outermost one; an exception
    drops the collected entries with the transaction.
    """
    if _batch.pending is not None:
        yield
        return
    _batch.pending = []
    try:
        yield
        pending = _batch.pending
    finally:
        _batch.pending = None
    _insert(pending)


def _insert(entries: Sequence[LedgerEntry]) -> None:
    # One INSERT built once per process (core.sql), not a compiled save()/bulk_create():
    # entries are only ever new rows, and no signal listens to them.
    insert_rows(entries)


def ledger_entries_save(entries: Sequence[LedgerEntry]) -> None:
    """Insert built entries: one statement, however many (at the end of a ``ledger_batch``)."""
    if _batch.pending is not None:
        _batch.pending.extend(entries)
    else:
        _insert(entries)


def ledger_head_annotate(
    queryset: models.QuerySet[Any],
    *,
    record: type[models.Model] | None = None,
    ref: str = "pk",
) -> models.QuerySet[Any]:
    """Read each row's ledger chain head along with the row (for rows without one on it).

    The locked read of a record that carries no head yet (``ledger_seq`` 0) brings the
    last entry's seq and hash in the same statement, so its next append needs no read.
    ``record``/``ref``: the chain of a related row (e.g. lines read with their invoice,
    ``record=VatInvoice, ref="invoice_id"``) rather than of the queryset's own rows.
    """
    model = record or queryset.model
    last = LedgerEntry.objects.filter(
        record_type=model._meta.label_lower,
        record_id=Cast(models.OuterRef(ref), output_field=models.CharField()),
    ).order_by("-seq")
    return queryset.annotate(
        ledger_chain_seq=models.Subquery(last.values("seq")[:1]),
        ledger_chain_hash=models.Subquery(last.values("entry_hash")[:1]),
    )


def ledger_append_many(
    items: Sequence[LedgerItem], *, save_heads: bool = True
) -> list[LedgerEntry]:
    """Append entries for several records (or several for one) in one INSERT.

    Call inside the transaction that changed the records, holding their row locks (or
    having created them there): the lock orders each chain; the unique (record, seq)
    constraint makes a race that slips past it fail loudly instead of forking the chain.
    A record whose row carried a head gets its new head written (one UPDATE each;
    ``transition`` saves it with the status instead, for free); a row without one keeps
    0 (its chain is read at its next append). ``save_heads=False``: the caller writes
    the heads itself (``ledger_heads_update``, with a change of its own).
    """
    carried = {
        _key(item.record): item.record
        for item in items
        if isinstance(item.record, LedgerHead) and item.record.ledger_seq
    }
    entries = ledger_entries_build(items)
    ledger_entries_save(entries)
    if not save_heads:
        return entries
    for record in carried.values():
        assert isinstance(record, LedgerHead)
        type(record)._default_manager.filter(pk=record.pk).update(
            ledger_seq=record.ledger_seq, ledger_hash=record.ledger_hash
        )
    return entries


def ledger_heads_update(records: Sequence[LedgerHead], **values: Any) -> int:
    """One UPDATE of several rows of one model: each row's in-memory ledger head, and
    ``values`` (the same for every row, e.g. ``status``, or ``form=<instance>``); returns
    the rows changed.

    Written as SQL (a CASE on the primary key for the per-row heads): the ORM's Case/When
    resolution cost more than the rest of a form issue's writes. Bound parameters only;
    names come from the model.
    """
    if not records:
        return 0
    model = type(records[0])
    meta = model._meta
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        return quote(str(meta.get_field(name).column))  # type: ignore[union-attr]

    pk_column = quote(str(meta.pk.column))  # type: ignore[union-attr]
    seq_column = column("ledger_seq")
    hash_column = column("ledger_hash")
    params: list[Any] = []
    if len(records) == 1:
        assignments = [f"{seq_column} = %s", f"{hash_column} = %s"]
        params += [records[0].ledger_seq, records[0].ledger_hash]
    else:
        whens = " ".join(["WHEN %s THEN %s"] * len(records))
        assignments = [
            f"{seq_column} = CASE {pk_column} {whens} END",
            f"{hash_column} = CASE {pk_column} {whens} END",
        ]
        params += [value for r in records for value in (r.pk, r.ledger_seq)]
        params += [value for r in records for value in (r.pk, r.ledger_hash)]
    for name, value in values.items():
        field = meta.get_field(name)
        if isinstance(value, models.Model):
            value = value.pk
        assignments.append(f"{column(name)} = %s")
        params.append(field.get_db_prep_save(value, connection))  # type: ignore[union-attr]
    params += [r.pk for r in records]
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {', '.join(assignments)} "  # noqa: S608 (names from the model, values bound)
        f"WHERE {pk_column} IN ({', '.join(['%s'] * len(records))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def ledger_append(
    *,
    record: models.Model,
    action: str,
    actor: Any = None,
    from_status: str = "",
    to_status: str = "",
    payload: dict[str, Any] | None = None,
    created: bool = False,
) -> LedgerEntry:
    """Append one entry for ``record``; call inside the transaction that changed it.

    The caller holds the record's row lock (or created the record in this transaction:
    say so with ``created``, and no read is needed), which orders the chain; the unique
    (record, seq) constraint makes a race that slips past it fail loudly instead of
    forking the chain.
    """
    item = LedgerItem(
        record=record,
        action=action,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        payload=payload,
        created=created,
    )
    return ledger_append_many([item])[0]


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
