"""The green lane at a registered kiosk: Device auth, customs' verification, channel kiosk."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from customs.models import Verification, VerificationAttempt
from customs.stamps import stamp_verify
from kiosk.models import Device
from kiosk.services import device_key_hash, device_register, device_revoke
from stores.models import RefundForm
from tests.factories import line
from tests.kiosk.conftest import DOCUMENT

URL = "/api/v1/kiosk/green-lane/"
DEMO_KEY = "kiosk-demo-2026"


def body(form: RefundForm, document: str = DOCUMENT) -> dict[str, Any]:
    return {
        "form": form.number,
        "qr": form.qr_payload,
        "document_number": document,
        "departure_date": timezone.localdate().isoformat(),
        "flight": "mu 5101",
    }


def post(api: Any, data: Any, key: str | None = DEMO_KEY) -> Any:
    client = api()
    if key is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Device {key}")
    return client.post(URL, data, format="json")


@pytest.mark.django_db
def test_seed_demo_registers_the_demo_device_hashed(demo: Any) -> None:
    device = Device.objects.get(name="KIOSK-PVG-1")
    assert device.port.code == "PVG" and device.active
    assert device.key_hash == device_key_hash(DEMO_KEY) and DEMO_KEY not in device.key_hash


@pytest.mark.django_db
def test_green_lane_verifies_with_the_device_as_signer(issued: Any, api: Any, demo: Any) -> None:
    form = issued()
    reply = post(api, body(form))
    assert reply.status_code == 201, reply.content
    data = reply.json()
    assert (data["form"], data["result"], data["channel"]) == (form.number, "verified", "kiosk")
    assert data["stamp"]["officer"] == "device:KIOSK-PVG-1"
    assert data["flight"] == "MU 5101"
    assert reply["Cache-Control"] == "no-store"
    verification = Verification.objects.get(form=form)
    assert verification.officer is None and verification.port == demo.port
    # The port's signature covers the device as the signer: its own stamp.
    assert stamp_verify(demo.port.code, verification.stamp_message, verification.stamp_signature)
    assert '"officer":"device:KIOSK-PVG-1"' in verification.stamp_message.replace(" ", "")
    # Once is enough: a second press is customs' own 409, which says it is this device's stamp.
    again = post(api, body(form))
    assert (again.status_code, again.json()["code"]) == (409, "already_verified")
    assert again.json()["extra"] == {"status": "verified", "same_device": True}
    assert Verification.objects.filter(form=form).count() == 1
    # Another kiosk at the port pressing for the same form is told it was not its own.
    _, other_key = device_register(name="KIOSK-PVG-3", port=demo.port)
    other = post(api, body(form), key=other_key)
    assert (other.status_code, other.json()["extra"]["same_device"]) == (409, False)


@pytest.mark.django_db
def test_verified_at_the_desk_is_not_the_devices_own(issued: Any, api: Any, demo: Any) -> None:
    from customs.services import verification_create

    form = issued()
    verification_create(
        port=demo.port,
        officer=demo.officer,
        form_number=form.number,
        qr=form.qr_payload,
        departure_date=timezone.localdate(),
    )
    reply = post(api, body(form))
    assert (reply.status_code, reply.json()["code"]) == (409, "already_verified")
    assert reply.json()["extra"]["same_device"] is False
    # Without the proof of possession, nothing is said about the form's state.
    assert post(api, body(form, document="X9999999")).status_code == 404


@pytest.mark.django_db
def test_selected_for_inspection_is_422(issued: Any, api: Any) -> None:
    red = issued(line(unit_price="10000.00"))  # over the port's inspection threshold
    reply = post(api, body(red))
    assert (reply.status_code, reply.json()["code"]) == (422, "inspection_required")
    red.refresh_from_db()
    assert red.status == "issued"
    assert VerificationAttempt.objects.filter(code="inspection_required", channel="kiosk").exists()


@pytest.mark.django_db
def test_wrong_document_is_the_kiosk_404_and_changes_nothing(issued: Any, api: Any) -> None:
    form = issued()
    reply = post(api, body(form, document="X9999999"))
    assert reply.status_code == 404
    form.refresh_from_db()
    assert form.status == "issued" and not Verification.objects.filter(form=form).exists()


@pytest.mark.django_db
def test_only_a_registered_active_device(issued: Any, api: Any, demo: Any) -> None:
    form = issued()
    for key in (None, "not-a-key"):
        reply = post(api, body(form), key=key)
        assert reply.status_code == 401, key
        assert reply["WWW-Authenticate"] == "Device"
    device, key = device_register(name="kiosk-pvg-2", port=demo.port)
    assert device.name == "KIOSK-PVG-2" and len(key) >= 40
    assert api().get("/api/v1/kiosk/device/", HTTP_AUTHORIZATION=f"Device {key}").json() == {
        "name": "KIOSK-PVG-2",
        "port": "PVG",
    }
    device_revoke(device=device)
    assert post(api, body(form), key=key).status_code == 401
    assert not Verification.objects.filter(form=form).exists()


@pytest.mark.django_db
def test_malformed_body_is_400(api: Any, demo: Any) -> None:
    reply = post(api, {"form": "1", "qr": "x", "document_number": "A", "departure_date": "soon"})
    assert (reply.status_code, reply.json()["code"]) == (400, "invalid")
    reply = post(api, {"unknown": 1})
    assert reply.status_code == 400


@pytest.mark.django_db
def test_lookup_offers_the_green_lane_and_shows_the_trip(issued: Any, lookup: Any) -> None:
    first, second = issued(), issued(line(unit_price="300.00"))
    reply = lookup(first.number).json()
    assert reply["green_lane"] is True
    assert [f["form"] for f in reply["trip"]] == [second.number]
    assert reply["trip"][0]["net_refund"] == "27.00"
    assert set(reply["trip"][0]) >= {"status", "timeline", "next_step", "payout_options"}
