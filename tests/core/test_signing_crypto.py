"""The form QR payload (verifiable with the public key alone) and document numbers at rest."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest
import segno
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import connection

from core.crypto import (
    decrypt_document,
    document_hash,
    encrypt_document,
    mask_document,
    normalize_document_number,
)
from core.numbering import form_number, is_valid_form_number
from core.signing import QR_LENGTH, MalformedQr, make_form_qr, parse_form_qr
from stores.models import RefundForm, Traveler
from tests.factories import make_form, traveler

NUMBER = "3126000000000017"
DIGEST = hashlib.sha256(b"form content").hexdigest()


def verify_with_public_key_only(payload: str, public_key_b64: str) -> tuple[str, bytes]:
    """What a customs or agency system does with the README's format and GET /api/v1/keys/."""
    assert payload[:3] == "RF1"
    number, blob = payload[3:19], base64.b32decode(payload[19:])
    digest16, signature = blob[:16], blob[16:]
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
    key.verify(signature, b"RF1" + number.encode() + digest16)  # raises when not signed by us
    return number, digest16


def test_qr_payload_format():
    payload = make_form_qr(NUMBER, DIGEST)
    assert len(payload) == QR_LENGTH == 147
    assert re.fullmatch(r"[0-9A-Z]+", payload)
    assert payload.startswith("RF1" + NUMBER)
    parsed = parse_form_qr(payload)
    assert (parsed.number, parsed.signature_valid) == (NUMBER, True)
    assert parsed.matches_digest(DIGEST)
    assert not parsed.matches_digest(hashlib.sha256(b"other").hexdigest())


def test_form_qr_verifies_with_only_the_published_public_key(demo, client):
    form = make_form(demo.store_sh, demo.clerk)
    keys = client.get("/api/v1/keys/").json()
    assert keys["algorithm"] == "Ed25519" and keys["qr_length"] == 147
    number, digest16 = verify_with_public_key_only(form.qr_payload, keys["platform"])
    assert number == form.number and is_valid_form_number(number)
    # the digest commits to the stored form content
    assert digest16.hex() == form.content_digest[:32]


def test_tampered_payload_fails(demo, client):
    payload = make_form_qr(NUMBER, DIGEST)
    public = client.get("/api/v1/keys/").json()["platform"]
    # another form number with the same signature
    forged_number = "RF1" + "3126000000000025" + payload[19:]
    # one character of the digest/signature changed
    position = 30
    flipped = "A" if payload[position] != "A" else "B"
    forged_blob = payload[:position] + flipped + payload[position + 1 :]
    for forged in (forged_number, forged_blob):
        assert parse_form_qr(forged).signature_valid is False
        with pytest.raises(InvalidSignature):
            verify_with_public_key_only(forged, public)


@pytest.mark.parametrize(
    "text",
    ["", "RF1", "XX1" + "3" * 144, make_form_qr(NUMBER, DIGEST)[:-1], "RF1" + "A" * 144],
)
def test_malformed_payloads_are_refused(text):
    with pytest.raises(MalformedQr):
        parse_form_qr(text)


def test_scanner_case_and_whitespace_are_tolerated():
    payload = make_form_qr(NUMBER, DIGEST)
    assert parse_form_qr(f"  {payload.lower()}\n").signature_valid


def test_qr_code_uses_alphanumeric_mode():
    payload = make_form_qr(NUMBER, DIGEST)
    forced = segno.make(payload, mode="alphanumeric", error="m")
    detected = segno.make(payload, error="m")
    assert forced.mode == detected.mode == "alphanumeric"
    # byte mode would need a bigger symbol for the same payload
    assert segno.make(payload, mode="byte", error="m").symbol_size() > forced.symbol_size()


def test_form_numbers_have_a_check_digit():
    from datetime import date

    number = form_number(region_code="31", issued_on=date(2026, 3, 1), sequence=1)
    assert len(number) == 16 and number.startswith("3126") and is_valid_form_number(number)
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert not is_valid_form_number(wrong)


# --- Document numbers -------------------------------------------------------------------


def test_document_numbers_are_not_stored_in_clear(demo):
    form = make_form(demo.store_sh, demo.clerk, who=traveler(document_number="E12345678"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM stores_traveler")
        traveler_rows = repr(cursor.fetchall())
        cursor.execute("SELECT * FROM stores_refundform")
        form_rows = repr(cursor.fetchall())
    for dump in (traveler_rows, form_rows):
        assert "E12345678" not in dump
        assert "E*****678" in dump  # only the masked form is readable
    person = Traveler.objects.get()
    assert decrypt_document(person.document_number_encrypted) == "E12345678"
    assert RefundForm.objects.get(pk=form.pk).document_hash == document_hash("E12345678")


def test_hash_lookup_normalizes_what_people_and_scanners_type():
    same = ["E12345678", "e12345678", "E 1234 5678", "E-1234-5678", " e1234-5678\t"]
    assert {document_hash(n) for n in same} == {document_hash("E12345678")}
    assert document_hash("E12345679") != document_hash("E12345678")
    assert normalize_document_number(" e1234-5678\t") == "E12345678"
    # a keyed hash, not a plain digest anyone could recompute from a guessed number
    assert document_hash("E12345678") != hashlib.sha256(b"E12345678").hexdigest()


def test_encryption_is_randomized_and_reversible():
    first, second = encrypt_document("e1234 5678"), encrypt_document("E12345678")
    assert first != second
    assert decrypt_document(first) == decrypt_document(second) == "E12345678"


@pytest.mark.parametrize(
    ("number", "masked"),
    [("E12345678", "E*****678"), ("g 1234-567", "G****567"), ("A1234", "A*234"), ("1234", "****")],
)
def test_mask(number, masked):
    assert mask_document(number) == masked


def test_the_readme_verifier_works_as_documented(demo, client):
    # the snippet a customs or agency system would copy from the README, run as written
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    snippet = next(block for block in blocks if "def verify_form_qr" in block)
    namespace: dict = {}
    exec(snippet, namespace)  # noqa: S102 - our own README
    form = make_form(demo.store_sh, demo.clerk)
    public = client.get("/api/v1/keys/").json()["platform"]
    number, digest16 = namespace["verify_form_qr"](form.qr_payload.lower(), public)
    assert (number, digest16.hex()) == (form.number, form.content_digest[:32])
    forged = (
        form.qr_payload[:20] + ("A" if form.qr_payload[20] != "A" else "B") + form.qr_payload[21:]
    )
    with pytest.raises(InvalidSignature):
        namespace["verify_form_qr"](forged, public)
