"""Database constraints speak words in the admin, not "Constraint 'x' is violated"."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db.models import BaseConstraint

PROJECT_APPS = {"core", "stores", "customs", "agencies", "kiosk", "authority"}


def test_every_constraint_of_the_project_has_a_message_in_words():
    default = BaseConstraint.default_violation_error_message
    missing = [
        f"{model._meta.label}.{constraint.name}"
        for model in apps.get_models()
        if model._meta.app_label in PROJECT_APPS
        for constraint in model._meta.constraints
        if not constraint.violation_error_message or constraint.violation_error_message == default
    ]
    assert not missing, "set violation_error_message on: " + ", ".join(missing)
    for model in apps.get_models():
        for constraint in model._meta.constraints:
            constraint.get_violation_error_message()  # a lone % would raise here


@pytest.mark.django_db
def test_the_admin_says_why_a_fee_rate_is_refused(client, demo):
    client.force_login(demo.admin)
    response = client.post(
        "/admin/core/agencyfeerate/add/",
        {"agency": demo.agency.pk, "effective_from": "2026-12-01", "rate": "0.5"},
    )
    page = response.content.decode()
    assert response.status_code == 200  # the form again, with the error
    assert "The fee rate must be at least 0% and below 11%." in page
    assert "is violated" not in page
