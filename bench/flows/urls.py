"""The platform's URLs plus the baseline: the thinnest DRF write there is."""

import uuid

from django.urls import path
from rest_framework.authentication import TokenAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.models import NumberSequence
from refund_site.urls import handler400, handler404, handler500
from refund_site.urls import urlpatterns as site_urls


class OneRowInsert(APIView):
    """Token auth, one INSERT, a small JSON answer: what every flow is compared with."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        row = NumberSequence.objects.create(key=f"bench-{uuid.uuid4().hex}")
        return Response({"id": row.pk}, status=201)


urlpatterns = [path("bench/insert/", OneRowInsert.as_view()), *site_urls]

__all__ = ["handler400", "handler404", "handler500", "urlpatterns"]
