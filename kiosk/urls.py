from django.urls import path

from kiosk import views

app_name = "kiosk"

urlpatterns = [
    path("", views.kiosk_home, name="home"),
    path("device/", views.kiosk_device, name="device"),
]
