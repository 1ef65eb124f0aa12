"""Ledger proofs from the API, checked by the standalone script as an auditor would."""

from __future__ import annotations

import ast
import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from authority.models import AuthorityRead
from core.ledger import _head_message, ledger_append, ledger_seal, ledger_verify, merkle_root
from core.models import LedgerEntry, LedgerSeal, LedgerSealItem
from core.signing import sha256_hex, sign
from tests.authority.helpers import goods, issue, traveler, verify
from tests.factories import staff_user
from tests.stores.helpers import assert_error

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify_proof.py"
FR = traveler("Marie Dupont", "18AB12345", "FR")


def run_verifier(tmp_path, body, keys, *extra):
    proof = tmp_path / "proof.json"
    proof.write_text(json.dumps(body) if not isinstance(body, str) else body)
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps(keys))
    done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(SCRIPT), str(proof), "--keys", str(keys_file), *extra],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def sealed_form(demo, api):
    """A form issued and verified through the API, its entries sealed in two heads."""
    form = issue(api(demo.clerk), FR, goods("Silk scarf", "1", "800.00", "0.13", "clothing"))
    first = ledger_seal()
    verify(api(demo.officer), form)
    second = ledger_seal()
    assert first and second and second.tree_size > first.tree_size
    return form


def test_a_proof_from_the_api_verifies_with_the_standalone_script(demo, api, sealed_form, tmp_path):
    reply = api(demo.analyst).get(f"/api/v1/ledger/proofs/forms/{sealed_form['number']}/")
    assert reply.status_code == 200, reply.json()
    assert reply["Cache-Control"] == "no-store"
    body = reply.json()
    assert [e["action"] for e in body["entries"]] == ["form_issued", "form_verified"]
    for entry in body["entries"]:
        assert set(entry) >= {"seq", "action", "entry_hash", "leaf_index", "audit_path", "head"}
        assert set(entry["head"]) >= {"tree_size", "root", "created_at", "signature"}
    # the two entries were sealed by two different heads
    assert body["entries"][0]["head"]["tree_size"] < body["entries"][1]["head"]["tree_size"]
    keys = api().get("/api/v1/keys/").json()
    assert body["public_key"] == keys["platform"]
    code, out = run_verifier(tmp_path, body, keys)
    assert code == 0, out
    assert "OK: every check passed" in out
    assert AuthorityRead.objects.filter(what="ledger_proof", channel="api").count() == 1


def test_a_one_byte_change_to_a_ledger_row_makes_the_proof_fail(demo, api, sealed_form, tmp_path):
    keys = api().get("/api/v1/keys/").json()
    url = f"/api/v1/ledger/proofs/forms/{sealed_form['number']}/"
    entry = LedgerEntry.objects.get(action="form_issued")
    with connection.cursor() as cursor:  # an insider edits the row behind the ORM's back
        cursor.execute(
            "UPDATE core_ledgerentry SET actor_label = %s WHERE id = %s",
            ["clerK", entry.pk],
        )
    code, out = run_verifier(tmp_path, api(demo.analyst).get(url).json(), keys)
    assert code == 1, out
    assert "entry hash does not match its content" in out


def test_a_rewritten_entry_hash_is_no_longer_in_the_signed_tree(demo, api, sealed_form, tmp_path):
    keys = api().get("/api/v1/keys/").json()
    entry = LedgerEntry.objects.get(action="form_verified")
    forged = ("0" if entry.entry_hash[0] != "0" else "1") + entry.entry_hash[1:]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE core_ledgerentry SET entry_hash = %s WHERE id = %s", [forged, entry.pk]
        )
    url = f"/api/v1/ledger/proofs/forms/{sealed_form['number']}/"
    code, out = run_verifier(tmp_path, api(demo.analyst).get(url).json(), keys)
    assert code == 1, out
    assert "audit path fails" in out or "entry hash does not match" in out


def test_a_one_byte_change_to_the_saved_file_makes_it_fail(demo, api, sealed_form, tmp_path):
    keys = api().get("/api/v1/keys/").json()
    url = f"/api/v1/ledger/proofs/forms/{sealed_form['number']}/"
    text = json.dumps(api(demo.analyst).get(url).json())
    assert '"800.00"' in text
    code, out = run_verifier(tmp_path, text.replace('"800.00"', '"900.00"', 1), keys)
    assert code == 1 and "payload does not match its digest" in out
    head_signature = json.loads(text)["entries"][0]["head"]["signature"]
    other_key = base64.b64encode(b"\x01" * 32).decode()
    code, out = run_verifier(tmp_path, text, {"platform": other_key})
    assert code in (1, 2) and "OK" not in out
    assert head_signature


def test_unsealed_entries_come_with_no_head(demo, api, tmp_path):
    form = issue(api(demo.clerk), FR, goods("Scarf", "1", "300.00", "0.13", None))
    body = api(demo.clerk).get(f"/api/v1/ledger/proofs/forms/{form['number']}/").json()
    assert [(e["head"], e["leaf_index"], e["audit_path"]) for e in body["entries"]] == [
        (None, None, [])
    ]
    code, out = run_verifier(tmp_path, body, api().get("/api/v1/keys/").json())
    assert code == 0 and "not sealed yet" in out


def test_invoice_and_refund_proofs(demo, api, sealed_form, tmp_path):
    from agencies.models import Refund

    form = api(demo.clerk).get(f"/api/v1/forms/{sealed_form['number']}/").json()
    number = form["invoices"][0]["number"]
    reply = api(demo.analyst).get(f"/api/v1/ledger/proofs/invoices/{number}/")
    assert [e["action"] for e in reply.json()["entries"]] == [
        "invoice_issued",
        "invoice_attached_to_form",
    ]
    refund = api(demo.agent).post(
        "/api/v1/refunds/",
        {
            "form": sealed_form["number"],
            "qr": sealed_form["qr"],
            "document_number": "18AB12345",
            "payout_method": "alipay",
            "payout_account": "marie@example.com",
        },
        format="json",
    )
    assert refund.status_code == 201, refund.json()
    ledger_seal()
    refund_id = Refund.objects.get().pk
    keys = api().get("/api/v1/keys/").json()
    for who in (demo.analyst, demo.agent, demo.clerk):
        reply = api(who).get(f"/api/v1/ledger/proofs/refunds/{refund_id}/")
        assert reply.status_code == 200, (who, reply.json())
    code, out = run_verifier(tmp_path, reply.json(), keys)
    assert code == 0, out
    assert_error(
        api(demo.agent2).get(f"/api/v1/ledger/proofs/refunds/{refund_id}/"), 404, "not_found"
    )


def test_out_of_scope_is_the_same_404_as_a_missing_record(demo, api, sealed_form):
    url = f"/api/v1/ledger/proofs/forms/{sealed_form['number']}/"
    for who in (demo.clerk2, demo.agent2, demo.officer2):
        assert_error(api(who).get(url), 404, "not_found")
    assert_error(
        api(demo.analyst).get("/api/v1/ledger/proofs/forms/3100000000000000/"), 404, "not_found"
    )
    assert api().get(url).status_code == 401
    assert api(demo.analyst).get("/api/v1/ledger/proofs/forms/ABC/").status_code == 404


def test_consistency_between_two_heads(demo, api, sealed_form, tmp_path):
    first, second = LedgerSeal.objects.order_by("id")
    keys = api().get("/api/v1/keys/").json()
    heads = api(demo.analyst).get("/api/v1/ledger/heads/").json()
    assert [h["tree_size"] for h in heads] == [second.tree_size, first.tree_size]
    kept = tmp_path / "kept-head.json"
    kept.write_text(json.dumps(heads[1]))
    reply = api(demo.clerk).get(
        "/api/v1/ledger/consistency/", {"first": first.tree_size, "second": second.tree_size}
    )
    assert reply.status_code == 200, reply.json()
    code, out = run_verifier(tmp_path, reply.json(), keys, "--trusted-head", str(kept))
    assert code == 0, out
    # a head the auditor never kept is not accepted as the old one
    other = dict(heads[1], head_hash="ab" * 32)
    kept.write_text(json.dumps(other))
    code, out = run_verifier(tmp_path, reply.json(), keys, "--trusted-head", str(kept))
    assert code == 1 and "not the head you trusted" in out
    # a forged old root fails the proof
    forged = reply.json()
    forged["first"]["root"] = "00" * 32
    code, out = run_verifier(tmp_path, forged, keys)
    assert code == 1


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({}, 400),
        ({"first": "x", "second": 2}, 400),
        ({"first": 5, "second": 2}, 400),
        ({"first": 1, "second": 999}, 404),
    ],
)
def test_bad_consistency_queries(demo, api, sealed_form, query, status):
    assert api(demo.analyst).get("/api/v1/ledger/consistency/", query).status_code == status


def test_entries_sealed_under_version_1_heads_are_proved_by_the_next_version_2_head(
    demo, api, tmp_path
):
    """Heads sealed before the upgrade signed only their batch: the next head covers them."""
    form = issue(api(demo.clerk), FR, goods("Scarf", "1", "300.00", "0.13", None))
    entries = list(LedgerEntry.objects.order_by("id"))
    old = LedgerSeal(
        created_at=timezone.now(),
        tree_size=len(entries),
        batch_size=len(entries),
        batch_root=merkle_root([e.entry_hash for e in entries]),
        prev_head="",
        version=1,
    )
    message = _head_message(old)
    old.head_hash = sha256_hex(message)
    old.signature = base64.b64encode(sign(message)).decode()
    old.save()
    LedgerSealItem.objects.bulk_create(
        LedgerSealItem(seal=old, entry=e, leaf_index=i) for i, e in enumerate(entries)
    )
    url = f"/api/v1/ledger/proofs/forms/{form['number']}/"
    assert api(demo.analyst).get(url).json()["entries"][0]["head"] is None
    ledger_append(record=staff_user("clerk", demo.store_sh).membership, action="note")
    new = ledger_seal()
    assert new is not None and new.version == 2 and new.tree_size == len(entries) + 1
    body = api(demo.analyst).get(url).json()
    assert body["entries"][0]["head"]["tree_size"] == new.tree_size
    code, out = run_verifier(tmp_path, body, api().get("/api/v1/keys/").json())
    assert code == 0, out
    assert ledger_verify().intact


def test_the_verifier_needs_no_django():
    tree = ast.parse(SCRIPT.read_text())
    imported = {
        (node.module or "").split(".")[0]
        if isinstance(node, ast.ImportFrom)
        else alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= {
        "__future__",
        "argparse",
        "base64",
        "binascii",
        "hashlib",
        "json",
        "sys",
        "collections",
        "typing",
        "cryptography",
    }
