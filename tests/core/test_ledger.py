"""The ledger: per-record chains, append-only rows, signed Merkle heads, `ledger verify`."""

from __future__ import annotations

import base64
import hashlib
import logging
from datetime import UTC
from decimal import Decimal
from io import StringIO

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.management import ManagementUtility, call_command
from django.db import IntegrityError, connection, connections, transaction

from core.ledger import (
    entry_hash_of,
    ledger_append,
    ledger_seal,
    ledger_verify,
    merkle_root,
    record_history,
)
from core.models import Agency, AppendOnlyError, LedgerEntry, LedgerSeal, LedgerSealItem
from core.signing import canonical_json, sha256_hex
from core.tasks import ledger_seal_task, ledger_verify_task


@pytest.fixture
def records(db):
    """Two records with interleaved histories: a has 3 entries, b has 2."""
    a = Agency.objects.create(code="A", name="A")
    b = Agency.objects.create(code="B", name="B")
    ledger_append(record=a, action="create", to_status="issued", payload={"total": Decimal("1.50")})
    ledger_append(record=b, action="create", to_status="issued", payload={"n": 1})
    ledger_append(record=a, action="verify", from_status="issued", to_status="verified")
    ledger_append(record=b, action="void", from_status="issued", to_status="voided")
    ledger_append(record=a, action="refund", from_status="verified", to_status="refunded")
    return a, b


@pytest.fixture
def run_verify_command(capsys, monkeypatch):
    """Run `manage.py ledger verify` as a shell would: (exit status, output)."""
    # run_from_argv closes every connection when done, which would end the test's transaction
    monkeypatch.setattr(connections, "close_all", lambda: None)
    return lambda: _run_verify(capsys)


def _run_verify(capsys) -> tuple[int, str]:
    try:
        ManagementUtility(["manage.py", "ledger", "verify"]).execute()
        status = 0
    except SystemExit as exc:
        status = int(exc.code or 0)
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def tamper(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# --- Chains ---------------------------------------------------------------------------


def test_append_chains_entries_per_record(records):
    a, b = records
    history = record_history(a)
    assert [(e.seq, e.action, e.from_status, e.to_status) for e in history] == [
        (1, "create", "", "issued"),
        (2, "verify", "issued", "verified"),
        (3, "refund", "verified", "refunded"),
    ]
    # each entry carries the hash of the previous entry of the same record
    assert history[0].prev_hash == ""
    assert [e.prev_hash for e in history[1:]] == [e.entry_hash for e in history[:-1]]
    other = record_history(b)
    assert [e.seq for e in other] == [1, 2]
    assert other[1].prev_hash == other[0].entry_hash
    # payloads are stored as JSON gives them back, with a digest over them
    assert history[0].payload == {"total": "1.50"}
    assert history[0].payload_digest == sha256_hex(canonical_json({"total": "1.50"}))
    assert entry_hash_of(history[0]) == history[0].entry_hash


def test_actor_is_recorded(db, django_user_model):
    user = django_user_model.objects.create_user(username="who", password="pw-123456")
    record = Agency.objects.create(code="X", name="X")
    entry = ledger_append(record=record, action="create", actor=user)
    system = ledger_append(record=record, action="sweep")
    assert (entry.actor_id, entry.actor_label) == (user.pk, "who")
    assert (system.actor_id, system.actor_label) == (None, "system")


# --- Append-only ------------------------------------------------------------------------


def test_orm_updates_and_deletes_are_refused(records):
    entry = LedgerEntry.objects.first()
    assert entry is not None
    entry.action = "rewritten"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        LedgerEntry.objects.filter(pk=entry.pk).update(action="rewritten")
    with pytest.raises(AppendOnlyError):
        LedgerEntry.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        LedgerEntry.objects.bulk_update([entry], ["action"])
    # a new instance carrying an existing pk cannot overwrite that row either
    clone = LedgerEntry.objects.get(pk=entry.pk)
    clone._state.adding = True
    with pytest.raises(IntegrityError), transaction.atomic():
        clone.save()
    assert LedgerEntry.objects.get(pk=entry.pk).action == "create"
    assert LedgerEntry.objects.count() == 5


def test_seals_are_append_only_too(records):
    seal = ledger_seal()
    assert seal is not None
    seal.batch_root = "0" * 64
    with pytest.raises(AppendOnlyError):
        seal.save()
    with pytest.raises(AppendOnlyError):
        LedgerSeal.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        LedgerSealItem.objects.all().update(leaf_index=0)
    assert ledger_verify().intact


# --- verify ------------------------------------------------------------------------------


def test_verify_command_reports_intact(records, run_verify_command):
    assert ledger_seal() is not None
    ledger_append(record=records[0], action="note")  # one entry not sealed yet
    status, output = run_verify_command()
    assert status == 0
    assert "Ledger intact: 6 entries in chains, 1 signed heads." in output


def test_verify_names_the_entry_altered_with_raw_sql(records, run_verify_command):
    a, _ = records
    target = record_history(a)[1]
    # when someone edits one row behind the application's back
    tamper(
        "UPDATE core_ledgerentry SET payload = %s WHERE id = %s",
        ['{"forged": true}', target.pk],
    )
    # then the command fails and names exactly that entry
    status, output = run_verify_command()
    assert status == 1
    assert f"Ledger is BROKEN at entry {target.pk} ({target}): payload does not match" in output
    report = ledger_verify()
    assert not report.intact
    assert report.first_break is not None
    assert report.first_break.startswith(f"entry {target.pk} ")


def test_verify_names_an_entry_whose_status_was_changed(records, run_verify_command):
    a, _ = records
    target = record_history(a)[2]
    tamper("UPDATE core_ledgerentry SET to_status = 'voided' WHERE id = %s", [target.pk])
    status, output = run_verify_command()
    assert status == 1
    assert f"entry {target.pk} " in output and "entry hash does not match" in output


def test_a_consistently_rewritten_entry_breaks_the_next_link(records):
    # given an attacker who rewrites an entry and recomputes its own hashes
    a, _ = records
    first, second, _third = record_history(a)
    first.to_status = "forged"
    forged = entry_hash_of(first)
    tamper(
        "UPDATE core_ledgerentry SET to_status = 'forged', entry_hash = %s WHERE id = %s",
        [forged, first.pk],
    )
    # then the next entry of that record no longer links to it
    report = ledger_verify()
    assert (
        report.first_break
        == f"entry {second.pk} ({second}): chain link to the previous entry is broken"
    )


def test_a_deleted_entry_breaks_its_chain(records):
    a, _ = records
    _first, second, third = record_history(a)
    tamper("DELETE FROM core_ledgerentry WHERE id = %s", [second.pk])
    assert ledger_verify().first_break == (
        f"entry {third.pk} ({third}): chain link to the previous entry is broken"
    )


# --- Seals ------------------------------------------------------------------------------


def test_seal_signs_a_merkle_head_over_new_entries(records, client):
    seal = ledger_seal()
    assert seal is not None
    entries = list(LedgerEntry.objects.order_by("id"))
    assert (seal.batch_size, seal.tree_size, seal.prev_head) == (5, 5, "")
    assert seal.batch_root == merkle_root([e.entry_hash for e in entries])
    # nothing new: no empty seal
    assert ledger_seal() is None
    ledger_append(record=records[1], action="note")
    second = ledger_seal()
    assert second is not None
    assert (second.batch_size, second.tree_size, second.prev_head) == (1, 6, seal.head_hash)
    # the head is signed by the platform key published at /api/v1/keys/
    public = base64.b64decode(client.get("/api/v1/keys/").json()["platform"])
    # Version 2 heads also sign the RFC 6962 root of every entry sealed so far.
    assert seal.version == 2
    assert seal.root == seal.batch_root  # the first batch is the whole tree
    assert second.root == merkle_root([e.entry_hash for e in LedgerEntry.objects.order_by("id")])
    message = b"ledger-head-v2\n" + canonical_json(
        {
            "tree_size": 5,
            "batch_size": 5,
            "batch_root": seal.batch_root,
            "prev_head": "",
            "root": seal.root,
            "created_at": seal.created_at.astimezone(UTC).isoformat(),
        }
    )
    assert sha256_hex(message) == seal.head_hash
    Ed25519PublicKey.from_public_bytes(public).verify(base64.b64decode(seal.signature), message)
    assert ledger_verify().seals == 2


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("batch_root", "ab" * 32, "Merkle root does not match its entries"),
        ("tree_size", 99, "head is not chained to the previous head"),
        ("signature", base64.b64encode(b"\0" * 64).decode(), "head signature is not valid"),
    ],
)
def test_verify_names_a_tampered_seal(records, run_verify_command, column, value, problem):
    seal = ledger_seal()
    assert seal is not None
    tamper(f"UPDATE core_ledgerseal SET {column} = %s WHERE id = %s", [value, seal.pk])  # noqa: S608
    status, output = run_verify_command()
    assert status == 1
    assert f"seal {seal.pk}: {problem}" in output


def test_a_sealed_entry_rewritten_consistently_is_caught_by_its_seal(records):
    # the last entry of a chain has no successor to break; the signed head catches it
    seal = ledger_seal()
    assert seal is not None
    _, b = records
    last = record_history(b)[-1]
    last.to_status = "forged"
    tamper(
        "UPDATE core_ledgerentry SET to_status = 'forged', entry_hash = %s WHERE id = %s",
        [entry_hash_of(last), last.pk],
    )
    assert ledger_verify().first_break == f"seal {seal.pk}: Merkle root does not match its entries"


def test_seal_task_logs_an_error_on_a_break_and_still_seals(records, caplog):
    a, _ = records
    target = record_history(a)[0]
    tamper(
        "UPDATE core_ledgerentry SET payload = %s WHERE id = %s", ['{"total": "9.99"}', target.pk]
    )
    with caplog.at_level(logging.ERROR, logger="core.ledger"):
        assert ledger_seal_task() == 5
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        f"Ledger verification failed: entry {target.pk} ({target}):"
        " payload does not match its digest"
    ]


def test_seal_task_is_quiet_when_intact(records, caplog):
    with caplog.at_level(logging.ERROR):
        assert ledger_seal_task() == 5
        assert ledger_seal_task() == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_seal_task_notices_a_broken_link_to_an_already_sealed_entry(records, caplog):
    a, _ = records
    assert ledger_seal() is not None
    newest = ledger_append(record=a, action="note")
    tamper("UPDATE core_ledgerentry SET prev_hash = %s WHERE id = %s", ["00" * 32, newest.pk])
    with caplog.at_level(logging.ERROR, logger="core.ledger"):
        ledger_seal_task()
    assert any(f"entry {newest.pk} " in r.getMessage() for r in caplog.records)


def test_verify_task_logs_a_break_anywhere(records, caplog):
    assert ledger_seal() is not None
    target = LedgerEntry.objects.order_by("id").first()
    assert target is not None
    tamper("UPDATE core_ledgerentry SET action = 'x' WHERE id = %s", [target.pk])
    with caplog.at_level(logging.ERROR, logger="core.tasks"):
        assert ledger_verify_task() is False
    assert f"entry {target.pk} " in caplog.records[-1].getMessage()


def test_seal_command(records):
    out = StringIO()
    call_command("ledger", "seal", stdout=out)
    assert out.getvalue().startswith("Sealed 5 entries; tree size 5; head ")
    out = StringIO()
    call_command("ledger", "seal", stdout=out)
    assert out.getvalue().strip() == "Nothing new to seal."


# --- Merkle tree (RFC 6962) -----------------------------------------------------------

# Certificate Transparency's reference inputs and tree heads (RFC 6962 test vectors).
CT_LEAVES = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_merkle_root_matches_the_rfc6962_reference_heads():
    assert merkle_root([]) == hashlib.sha256(b"").hexdigest()
    for size in range(1, 9):
        assert merkle_root(CT_LEAVES[:size]) == CT_ROOTS[size - 1]


def test_merkle_root_of_a_hand_computed_tree():
    # three leaves split at the largest power of two below 3: ((l0, l1), l2)
    hashes = [sha256_hex(name.encode()) for name in ("a", "b", "c")]

    def leaf(h: str) -> bytes:
        return hashlib.sha256(b"\x00" + bytes.fromhex(h)).digest()

    def node(left: bytes, right: bytes) -> bytes:
        return hashlib.sha256(b"\x01" + left + right).digest()

    l0, l1, l2 = (leaf(h) for h in hashes)
    assert merkle_root(hashes[:1]) == l0.hex()
    assert merkle_root(hashes[:2]) == node(l0, l1).hex()
    assert merkle_root(hashes) == node(node(l0, l1), l2).hex()
    # not the midpoint split ((l0), (l1, l2)) a naive tree would use
    assert merkle_root(hashes) != node(l0, node(l1, l2)).hex()
