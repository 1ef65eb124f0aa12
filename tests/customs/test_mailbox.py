"""Mailbox batches through the API: open, scan forms one after another, close, list, export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from django.utils import timezone

from core.models import LedgerEntry
from customs.models import MailboxBatch, MailboxBatchItem, Verification, VerificationAttempt
from tests.customs.conftest import new_port
from tests.factories import line, staff_user

BATCHES = "/api/v1/customs/mailbox-batches/"


def open_batch(client, **body):
    reply = client.post(BATCHES, body, format="json")
    assert reply.status_code == 201, reply.json()
    return reply.json()


def scan(client, batch_id, code):
    return client.post(f"{BATCHES}{batch_id}/scan/", {"code": code}, format="json")


def test_batch_flow_with_running_count_and_per_form_result(demo, api, issued):
    client = api(demo.officer)
    drop = timezone.localdate() - timedelta(days=1)
    a = issued(line(unit_price="300.00"), issued_on=drop - timedelta(days=2))
    b, c = issued(issued_on=drop), issued(issued_on=drop)
    batch = open_batch(client, drop_date=drop.isoformat(), note="Gate D box")
    assert batch["number"] == f"PVG-{drop:%Y%m%d}-01"
    assert (batch["status"], batch["scanned"], batch["note"]) == ("open", 0, "Gate D box")

    # the scanner types the QR; the officer types a number; a stranger QR; a duplicate
    first = scan(client, batch["id"], a.qr_payload)
    assert first.status_code == 201
    assert (first.json()["item"]["result"], first.json()["item"]["verified_total"]) == (
        "verified",
        "300.00",
    )
    assert first.json()["batch"]["scanned"] == 1
    # A typed number proves nothing (walking numbers would verify any form): refused.
    typed = scan(client, batch["id"], f" {b.number} ")
    assert (typed.json()["item"]["result"], typed.json()["item"]["code"]) == (
        "refused",
        "qr_required",
    )
    b.refresh_from_db()
    assert b.status == "issued"
    second = scan(client, batch["id"], f" {b.qr_payload} ")
    assert second.json()["item"]["result"] == "verified"
    forged = c.qr_payload[:-3] + ("AAA" if c.qr_payload[-3:] != "AAA" else "BBB")
    third = scan(client, batch["id"], forged)
    assert third.status_code == 201
    assert (third.json()["item"]["result"], third.json()["item"]["code"]) == (
        "refused",
        "qr_mismatch",
    )
    duplicate = scan(client, batch["id"], a.qr_payload)
    assert duplicate.json()["item"]["code"] == "already_verified"
    counts = duplicate.json()["batch"]
    assert (counts["scanned"], counts["verified"], counts["refused"]) == (5, 2, 3)
    assert counts["verified_total"] == "500.00"

    # mailbox forms carry the channel (transfer only at the agency) and the drop date
    stamped = Verification.objects.get(form=a)
    assert (stamped.channel, stamped.departure_date) == ("mailbox", drop)
    assert VerificationAttempt.objects.filter(channel="mailbox").count() == 3
    c.refresh_from_db()
    assert c.status == "issued"

    detail = client.get(f"{BATCHES}{batch['id']}/").json()
    assert [i["position"] for i in detail["items"]] == [5, 4, 3, 2, 1]
    assert [i["form"] for i in detail["items"]][2:] == [b.number, b.number, a.number]

    closed = client.post(f"{BATCHES}{batch['id']}/close/")
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed" and closed.json()["closed_by"] == "officer"
    late = scan(client, batch["id"], c.number)
    assert late.status_code == 409 and late.json()["code"] == "batch_closed"
    again = client.post(f"{BATCHES}{batch['id']}/close/")
    assert again.status_code == 409 and again.json()["code"] == "batch_closed"
    assert MailboxBatchItem.objects.count() == 5

    listing = client.get(BATCHES).json()["results"]
    assert [(x["number"], x["scanned"], x["status"]) for x in listing] == [
        (batch["number"], 5, "closed")
    ]


def test_export_is_csv_with_one_row_per_scan(demo, api, issued):
    client = api(demo.officer)
    form = issued()
    batch = open_batch(client)
    scan(client, batch["id"], form.qr_payload)
    scan(client, batch["id"], "RF1NOTAQRCODE")
    reply = client.get(f"{BATCHES}{batch['id']}/export/")
    assert reply.status_code == 200
    assert reply["Content-Type"].startswith("text/csv")
    assert batch["number"] in reply["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(reply.content.decode())))
    assert [(r["position"], r["form"], r["result"], r["code"]) for r in rows] == [
        ("1", form.number, "verified", ""),
        ("2", "RF1NOTAQRCODE", "refused", "invalid_qr"),
    ]
    assert rows[0]["verified_total"] == "200.00" and rows[0]["channel"] == "mailbox"


def test_a_typo_is_400_and_adds_nothing(demo, api, issued):
    client = api(demo.officer)
    form = issued()
    batch = open_batch(client)
    typo = form.number[:-1] + str((int(form.number[-1]) + 1) % 10)
    reply = scan(client, batch["id"], typo)
    assert reply.status_code == 400 and reply.json()["code"] == "invalid_form_number"
    assert scan(client, batch["id"], "").status_code == 400
    assert not MailboxBatchItem.objects.exists()
    assert not VerificationAttempt.objects.exists()


def test_drop_date_must_be_recent_and_the_port_needs_a_mailbox(demo, api, issued):
    client = api(demo.officer)
    old = timezone.localdate() - timedelta(days=31)
    reply = client.post(BATCHES, {"drop_date": old.isoformat()}, format="json")
    assert reply.status_code == 422 and reply.json()["code"] == "drop_date_out_of_range"
    future = timezone.localdate() + timedelta(days=1)
    reply = client.post(BATCHES, {"drop_date": future.isoformat()}, format="json")
    assert reply.json()["code"] == "drop_date_out_of_range"
    no_box = staff_user("officer", new_port("WUH", "42", has_mailbox=False), "wuh")
    reply = api(no_box).post(BATCHES, {}, format="json")
    assert reply.status_code == 422 and reply.json()["code"] == "no_mailbox"
    assert not MailboxBatch.objects.exists()


def test_an_old_drop_date_still_refuses_departure_before_purchase(demo, api, issued):
    client = api(demo.officer)
    form = issued()  # bought today
    batch = open_batch(client, drop_date=(timezone.localdate() - timedelta(days=3)).isoformat())
    item = scan(client, batch["id"], form.qr_payload).json()["item"]
    assert (item["result"], item["code"]) == ("refused", "departure_before_purchase")


def test_batches_belong_to_their_port(demo, api, issued):
    batch = open_batch(api(demo.officer))
    stranger = staff_user("officer", new_port("PEK", "11"), "pek")
    assert api(stranger).get(f"{BATCHES}{batch['id']}/").status_code == 404
    assert scan(api(stranger), batch["id"], issued().number).status_code == 404
    assert api(stranger).get(BATCHES).json()["results"] == []
    assert api(demo.clerk).get(BATCHES).status_code == 403


def test_scan_idempotency_key_does_not_scan_twice(demo, api, issued):
    client = api(demo.officer)
    batch = open_batch(client)
    form = issued()
    url = f"{BATCHES}{batch['id']}/scan/"
    first = client.post(url, {"code": form.qr_payload}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = client.post(url, {"code": form.qr_payload}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert again.json() == first.json()
    assert MailboxBatchItem.objects.count() == 1


def test_batch_events_are_in_the_ledger(demo, api, issued):
    client = api(demo.officer)
    batch = open_batch(client)
    scan(client, batch["id"], issued().qr_payload)
    scan(client, batch["id"], "RF1BAD")
    client.post(f"{BATCHES}{batch['id']}/close/")
    entries = LedgerEntry.objects.filter(
        record_type="customs.mailboxbatch", record_id=str(batch["id"])
    )
    assert [(e.seq, e.action, e.to_status) for e in entries.order_by("seq")] == [
        (1, "mailbox_batch_opened", "open"),
        (2, "mailbox_form_verified", "open"),
        (3, "mailbox_form_refused", "open"),
        (4, "mailbox_batch_closed", "closed"),
    ]
    closing = entries.order_by("seq").last()
    assert closing is not None and closing.payload == {
        "number": batch["number"],
        "scanned": 2,
        "refused": 1,
    }
