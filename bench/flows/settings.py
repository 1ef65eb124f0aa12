"""Settings gunicorn runs under in ``bench/bench_flows.py``: the local settings, debug off,
the baseline endpoint added, a statement counter on every reply, kiosk throttle raised.

Never used outside the benchmark.
"""

from typing import Any

from refund_site.settings.local import *  # noqa: F403
from refund_site.settings.local import MIDDLEWARE as _SITE_MIDDLEWARE
from refund_site.settings.local import REST_FRAMEWORK as _SITE_REST

DEBUG = False
ROOT_URLCONF = "bench.flows.urls"
MIDDLEWARE = ["bench.flows.middleware.statement_count", *_SITE_MIDDLEWARE]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AXES_ENABLED = False
_rest: dict[str, Any] = dict(_SITE_REST)
REST_FRAMEWORK = {
    **_rest,
    "DEFAULT_THROTTLE_RATES": {**_rest.get("DEFAULT_THROTTLE_RATES", {}), "kiosk": "1000000/min"},
}
# The kiosk lookups come from many addresses, as behind a port's reverse proxy.
TRUSTED_PROXIES = ["127.0.0.1"]
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
