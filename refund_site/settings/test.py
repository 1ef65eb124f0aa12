"""Test settings: the local defaults with fast hashing and a per-run var dir."""

from .local import *  # noqa: F403
from .local import env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AXES_ENABLED = False
CELERY_TASK_ALWAYS_EAGER = False
IDEMPOTENCY_WAIT_SECONDS = env.float("IDEMPOTENCY_WAIT_SECONDS", default=20.0)
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"kiosk": "1000/min"}}  # noqa: F405

# Fixed keys for tests only: no key files, same results in every worker.
SIGNING_PRIVATE_KEY = "dGVzdC1zaWduaW5nLWtleS0wMDAwMDAwMDAwMDAwMDA="
FIELD_ENCRYPTION_KEY = "dGVzdC1maWVsZC1lbmNyeXB0aW9uLWtleS0wMDAwMDA="
DOCUMENT_HASH_KEY = "dGVzdC1kb2N1bWVudC1oYXNoLWtleS0wMDAwMDAwMDA="
GENERATE_MISSING_KEYS = False
