"""Test settings: the local defaults with fast hashing, fixed keys, an in-process broker."""

import atexit
import os
import tempfile
from pathlib import Path

from .local import *  # noqa: F403
from .local import CACHES as _LOCAL_CACHES
from .local import env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AXES_ENABLED = False
CELERY_TASK_ALWAYS_EAGER = False
IDEMPOTENCY_WAIT_SECONDS = env.float("IDEMPOTENCY_WAIT_SECONDS", default=1.0)
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"kiosk": "1000/min"}}  # noqa: F405
_cache = _LOCAL_CACHES["default"]
if "CULL_EVERY_SECONDS" in _cache.get("OPTIONS", {}):
    # Statement counts per request are asserted: the shared cache's periodic count (one
    # set in ten seconds) would land in one of them at random. tests/core/test_cache.py
    # tests it with caches of its own.
    CACHES = {"default": {**_cache, "OPTIONS": {**_cache["OPTIONS"], "CULL_EVERY_SECONDS": 1e9}}}

# Fixed keys for tests only: no key files, same results in every worker.
SIGNING_PRIVATE_KEY = "dGVzdC1zaWduaW5nLWtleS0wMDAwMDAwMDAwMDAwMDA="
FIELD_ENCRYPTION_KEY = "dGVzdC1maWVsZC1lbmNyeXB0aW9uLWtleS0wMDAwMDA="
DOCUMENT_HASH_KEY = "dGVzdC1kb2N1bWVudC1oYXNoLWtleS0wMDAwMDAwMDA="
GENERATE_MISSING_KEYS = False

# Enqueued tasks stay in this process: unit tests call tasks directly, and a test run
# must never drop messages into the broker folder a local worker is reading.
CELERY_BROKER_URL = env.str("TEST_CELERY_BROKER_URL", default="memory://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file rather than memory, so that the end-to-end tests' Celery worker (another
    # process) sees what a test commits; one file per test process, removed after.
    _TEST_DB = Path(tempfile.gettempdir()) / f"refund-test-{os.getpid()}.sqlite3"
    DATABASES["default"]["TEST"] = {"NAME": str(_TEST_DB)}  # noqa: F405

    def _remove_test_db_files() -> None:
        # Django removes the database file; SQLite's -wal/-shm, or all of it after an
        # interrupted run, would stay behind.
        for leftover in _TEST_DB.parent.glob(_TEST_DB.name + "*"):
            leftover.unlink(missing_ok=True)

    atexit.register(_remove_test_db_files)
