"""Settings shared by every environment, read through django-environ.

Defaults run with no server to install: a SQLite file in WAL mode and a
filesystem Celery broker under ``var/``. ``DATABASE_URL`` and
``CELERY_BROKER_URL`` switch to PostgreSQL and Redis.
"""

from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("REFUND_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "core",
    "stores",
    "customs",
    "agencies",
    "buyrefund",
    "kiosk",
    "authority",
    "travelers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "core.middleware.NoStoreMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "core.auth.OtpMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "refund_site.urls"
WSGI_APPLICATION = "refund_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # Every page formats money and ledger words the same way: {{ x|rmb }}.
            "builtins": ["core.templatetags.money"],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'refund.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE makes every transaction take the write lock at BEGIN, so
    # concurrent writers queue behind each other instead of failing on upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                "PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON;"
            ),
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Shared by every process: throttles, the kiosk's per-form lock. A table in the database
# by default (``manage.py createcachetable``, run next to migrate), so several web
# processes on the embedded setup count together; ``CACHE_URL=redis://...`` in production.
CACHES = {
    "default": env.cache_url("CACHE_URL", default="dbcache://refund_cache"),
}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache":
    # The same table; ``set`` is one upsert rather than a transaction of four, and the
    # count Django culls by is made every CACHE_CULL_EVERY_SECONDS in a process, not on
    # every write. A million entries before culling: Django's 300 let a burst of wrong
    # kiosk lookups cull the per-form locks (core/cache.py).
    CACHES["default"]["BACKEND"] = "core.cache.DatabaseCache"
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {
            "MAX_ENTRIES": env.int("CACHE_MAX_ENTRIES", default=1_000_000),
            "CULL_EVERY_SECONDS": env.float("CACHE_CULL_EVERY_SECONDS", default=10.0),
        }
    )

# Reverse proxies in front of the web processes (addresses or CIDR blocks, comma-separated).
# X-Forwarded-For is believed only when the immediate peer is one of them.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("zh-hans", "简体中文"),
    ("zh-hant", "繁體中文"),
    ("ja", "日本語"),
    ("ko", "한국어"),
    ("ru", "Русский"),
    ("fr", "Français"),
    ("de", "Deutsch"),
    ("es", "Español"),
    ("ar", "العربية"),
]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "static_root"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only (bounded depth, no lone surrogates): a form-encoded body is a 415.
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_RATES": {"kiosk": env.str("KIOSK_THROTTLE_RATE", default="30/min")},
    "NUM_PROXIES": 0,  # never trust X-Forwarded-For blindly (core.net.client_ip decides)
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Departure VAT refund platform API",
    "DESCRIPTION": "Stores, customs and refund agencies advance one signed record per refund.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files: the docs page works offline, no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "status" with other choices: name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "FormStatusEnum": "stores.models.FormStatus",
        "GoodsCategoryEnum": "stores.models.GoodsCategory",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.document_common_errors",
        "stores.api.serializers.optional_form_sections",
    ],
}

# --- Content-Security-Policy (django-csp) -------------------------------------
# Every page: scripts and styles only from our own static files; no inline <script>,
# no on*= handlers, no style= attributes. Pages hand data to their scripts through
# data- attributes or json_script (a non-executable application/json block).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "media-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Keys ------------------------------------------------------------------
# Ed25519 platform key (raw 32-byte seed, base64) signing QR payloads and
# ledger tree heads. Local runs generate one under var/keys on first use.
SIGNING_PRIVATE_KEY = env.str("SIGNING_PRIVATE_KEY", default="")
# Fernet key for document numbers at rest; HMAC key for their lookup hash.
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")
DOCUMENT_HASH_KEY = env.str("DOCUMENT_HASH_KEY", default="")
KEY_DIR = VAR_DIR / "keys"
GENERATE_MISSING_KEYS = env.bool("GENERATE_MISSING_KEYS", default=False)

# --- Celery ----------------------------------------------------------------
_broker_dir = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost//")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # Redis: an unacknowledged message (its worker died) is delivered again after the
    # visibility timeout. Our tasks take seconds and retry with countdowns of at most
    # CELERY_TASK_RETRY_MAX_SECONDS, so 5 minutes brings a killed worker's task back
    # soon without redelivering a task still waiting for its countdown.
    # Workers look for such messages every interval x throttle seconds (30 s here).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=300),
        "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
        "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=3),
        "socket_connect_timeout": 5,
        "socket_timeout": 30,
        "retry_on_timeout": True,
        "health_check_interval": 25,
    }
# Keep reconnecting through a broker outage of any length (the default gives up).
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# How long a caller (a web request, the sweep command) waits for the broker to take
# a message before it gives up and says "will be retried by the next sweep".
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=4.0)
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0.5,
    "interval_step": 0.5,
    "interval_max": 1.0,
}
CELERY_TASK_RETRY_MAX_SECONDS = 120
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=None) or None
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "ledger-seal": {
        "task": "core.tasks.ledger_seal_task",
        "schedule": env.float("LEDGER_SEAL_INTERVAL_SECONDS", default=60.0),
    },
    # Full recheck of every chain and signed head (the seal only checks new entries).
    "ledger-verify": {
        "task": "core.tasks.ledger_verify_task",
        "schedule": env.float("LEDGER_VERIFY_INTERVAL_SECONDS", default=86400.0),
    },
    # Last month's settlement file for every agency, on the 1st at 02:00 Shanghai time.
    "agency-monthly-settlement": {
        "task": "agencies.tasks.settlement_monthly_task",
        "schedule": crontab(day_of_month="1", hour="2", minute="0"),
    },
    # Transfers a crash left pending are re-sent with their stored payout keys.
    "agency-resend-stale-refunds": {
        "task": "agencies.tasks.refunds_resend_stale_task",
        "schedule": 300.0,
    },
    # Buy & Refund guarantees: release, re-authorize, capture as due (idempotent; hourly).
    "agency-guarantees-sweep": {
        "task": "agencies.tasks.guarantees_sweep_task",
        "schedule": 3600.0,
    },
    # Idempotency records whose request died: store the settled answer, free the rest.
    "core-idempotency-settle": {
        "task": "core.tasks.idempotency_settle_task",
        "schedule": 60.0,
    },
    # Buy & Refund: the traveler is reminded 3 days before the deadline (once per form).
    "travelers-deadline-reminders": {
        "task": "travelers.tasks.deadline_reminders_task",
        "schedule": crontab(hour="9", minute="0"),
    },
    # Safety net of the event tasks (a lost enqueue): pending notices, chosen transfers.
    "travelers-safety-net": {
        "task": "travelers.tasks.travelers_safety_net_task",
        "schedule": 300.0,
    },
    # Proof of life for `manage.py doctor`: beat sends it, a worker records it.
    "core-heartbeat": {
        "task": "core.tasks.heartbeat_task",
        "schedule": env.float("HEARTBEAT_INTERVAL_SECONDS", default=60.0),
    },
}

# --- Axes (login lockout on the staff pages) --------------------------------
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = 1  # hours
# Per user name AND address: random names from one address lock no real user out, and
# guessing one user's password from many addresses is still counted per address.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "core.net.client_ip"
AXES_LOCKOUT_CALLABLE = "core.auth.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # no start-up banner on every manage.py command

# --- Second factor (TOTP, django-otp) ------------------------------------------
# Anyone may enroll at /accounts/otp/; with OTP_REQUIRED (production) these roles and
# superusers/admin staff must, and every login of a user with a device needs its code.
OTP_REQUIRED = env.bool("OTP_REQUIRED", default=False)
OTP_REQUIRED_ROLES = ["officer", "agent", "analyst"]
OTP_TOTP_ISSUER = "VAT refund"

# --- Business ---------------------------------------------------------------
DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="refund-demo-2026")
# The demo kiosk device KIOSK-PVG-1's key (seed_demo; production keys are generated).
DEMO_KIOSK_KEY = env.str("DEMO_KIOSK_KEY", default="kiosk-demo-2026")
# A retry of a request still running waits this long at most, then gets 409
# idempotency_in_progress with Retry-After (never a wait near a server timeout).
IDEMPOTENCY_WAIT_SECONDS = env.float("IDEMPOTENCY_WAIT_SECONDS", default=1.0)
# An attempt silent this long is dead (longer than gunicorn's 30 s worker timeout).
IDEMPOTENCY_LEASE_SECONDS = env.float("IDEMPOTENCY_LEASE_SECONDS", default=60.0)
# A card operation's sender holds it this long; after that another process re-sends it.
GUARANTEE_OPERATION_LEASE_SECONDS = env.float("GUARANTEE_OPERATION_LEASE_SECONDS", default=120.0)

# Reference data (policies, fee rates, windows, overrides, inspection policies, risk rules)
# kept per process this long; a save in the process empties it at once (core.refcache).
REFERENCE_CACHE_SECONDS = env.float("REFERENCE_CACHE_SECONDS", default=30.0)
# A transfer left pending (or failed without an answer) this long is re-sent.
REFUND_STALE_SECONDS = env.float("REFUND_STALE_SECONDS", default=300.0)
# Gateways (dotted paths; the sandboxes by default) and the sandboxes' answer delay,
# which the fault-injection tests use to kill a process between money and answer.
CARD_GATEWAY = env.str("CARD_GATEWAY", default="agencies.cards.SandboxCardGateway")
PAYOUT_GATEWAY = env.str("PAYOUT_GATEWAY", default="agencies.payouts.SandboxPayoutGateway")
SANDBOX_GATEWAY_DELAY_SECONDS = env.float("SANDBOX_GATEWAY_DELAY_SECONDS", default=0.0)
# doctor: the beat heartbeat is stale after this many seconds.
HEARTBEAT_STALE_SECONDS = env.float("HEARTBEAT_STALE_SECONDS", default=300.0)
# Wrong document numbers for one form before kiosk lookups of it wait, and for how long.
KIOSK_FORM_LOCK_FAILURES = env.int("KIOSK_FORM_LOCK_FAILURES", default=5)
KIOSK_FORM_LOCK_SECONDS = env.int("KIOSK_FORM_LOCK_SECONDS", default=15 * 60)

# Every handler masks document and card numbers (core.logging), Django's own included:
# "django" goes to the root handler, runserver's request log to a masked copy of its own.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"personal_data": {"()": "core.logging.MaskPersonalData"}},
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["personal_data"]},
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["personal_data"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # One line per event: Django's own console handler (DEBUG only) would print every
        # record a second time through the root handler.
        "django": {"handlers": [], "propagate": True},
        # A 4xx is in the access line already (runserver, gunicorn): only 5xx, with traceback.
        "django.request": {"level": env.str("DJANGO_REQUEST_LOG_LEVEL", default="ERROR")},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}

# --- Traveler notices (SPEC §5) -------------------------------------------------
# EMAIL_URL in django-environ's form, e.g. smtp+tls://user:password@smtp.example.com:587;
# the default prints emails on the console (the demo).
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="tax-refund@localhost")
# Links in notices and on the printed form point at this site.
TRAVELER_PAGE_BASE_URL = env.str("TRAVELER_PAGE_BASE_URL", default="http://127.0.0.1:8000")
TRAVELER_MESSAGE_GATEWAY = env.str(
    "TRAVELER_MESSAGE_GATEWAY", default="travelers.messaging.SandboxMessageGateway"
)
