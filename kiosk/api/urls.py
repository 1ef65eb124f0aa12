from django.urls import path

from kiosk.api import views

urlpatterns = [
    path("kiosk/lookup/", views.LookupView.as_view(), name="api-kiosk-lookup"),
]
