from django.urls import path

from core.api.views import PublicKeysView, TokenView

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("keys/", PublicKeysView.as_view(), name="api-keys"),
]
