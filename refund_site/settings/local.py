"""Local and demo settings: embedded defaults, generated dev keys, DEBUG on."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-local-dev-key-not-for-production")
GENERATE_MISSING_KEYS = True
# Serve static files straight from the app folders in local runs and tests.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
