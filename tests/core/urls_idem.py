"""A test-only API: one idempotent POST that creates a row, under the real URL map."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.urls import include, path
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.idempotency import idempotent
from core.exceptions import NotFound, PermissionDenied, RuleViolation, StateConflict
from core.models import Agency


class AgencyInput(serializers.Serializer):
    code = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=200)


class CreateAgencyView(APIView):
    """POST {code, name} -> 201 {id, code, name}; code "REFUSE" -> 422; "CRASH" -> 500."""

    @idempotent
    def post(self, request: Request) -> Response:
        data = AgencyInput(data=request.data)
        data.is_valid(raise_exception=True)
        code = data.validated_data["code"]
        if code == "REFUSE":
            raise RuleViolation("Refused by a rule.", "refused_for_test")
        if code == "CRASH":
            raise RuntimeError("a bug")
        agency = Agency.objects.create(code=code, name=data.validated_data["name"])
        return Response({"id": agency.pk, "code": agency.code, "name": agency.name}, status=201)


class ErrorView(APIView):
    """GET raises the error named in the URL, as a service would."""

    def get(self, request: Request, kind: str) -> Response:
        errors: dict[str, Exception] = {
            "rule": RuleViolation("A rule says no.", "below_minimum", {"minimum": "200.00"}),
            "conflict": StateConflict("Already verified.", "already_verified"),
            "missing": NotFound("No such form."),
            "forbidden": PermissionDenied("Not your store."),
            "django-validation": DjangoValidationError({"quantity": ["Must be positive."]}),
            "django-404": Http404("gone"),
        }
        raise errors[kind]


urlpatterns = [
    path("api/v1/test/agencies/", CreateAgencyView.as_view()),
    path("api/v1/test/errors/<str:kind>/", ErrorView.as_view()),
    path("", include("refund_site.urls")),
]
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
