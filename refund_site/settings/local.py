"""Local and demo settings: embedded defaults, generated dev keys, DEBUG on."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-local-dev-key-not-for-production")
GENERATE_MISSING_KEYS = True
