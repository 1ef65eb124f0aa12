from django.urls import path

from kiosk.api import views

urlpatterns = [
    path("kiosk/lookup/", views.LookupView.as_view(), name="api-kiosk-lookup"),
    path("kiosk/device/", views.DeviceView.as_view(), name="api-kiosk-device"),
    path("kiosk/green-lane/", views.GreenLaneView.as_view(), name="api-kiosk-green-lane"),
]
