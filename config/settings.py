"""One settings module for every environment, driven by environment variables.

DJANGO_ENV picks the defaults: "development" (the embedded default of `make run` and
`make test`: SQLite, tasks in-process, mail on the console) or "production" (every
secret must come from the environment, secure cookies and HSTS).
"""

from __future__ import annotations

from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

ENVIRONMENT = env.str("DJANGO_ENV", default="development")
if ENVIRONMENT not in {"development", "production"}:
    raise environ.ImproperlyConfigured("DJANGO_ENV must be 'development' or 'production'.")
PRODUCTION = ENVIRONMENT == "production"

DEBUG = env.bool("DJANGO_DEBUG", default=False)
if PRODUCTION:
    # No default: a production process without its own key must not start.
    SECRET_KEY = env.str("DJANGO_SECRET_KEY")
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
    # The address in links that mails and tasks send; never taken from a request's Host
    # header, which the sender of a request chooses.
    SITE_URL = env.str("SITE_URL").rstrip("/")
else:
    SECRET_KEY = env.str(
        "DJANGO_SECRET_KEY", default="development-only-key-never-used-in-production-0123456789"
    )
    ALLOWED_HOSTS = env.list(
        "DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"]
    )
    SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Tests that need PostgreSQL, Redis, a Celery worker or Chromium fail instead of skipping.
REQUIRE_SERVICES = env.bool("REQUIRE_SERVICES", default=False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "rest_framework",
    "drf_spectacular",
    "django_filters",
    "django_htmx",
    "rules.apps.AutodiscoverRulesConfig",
    "auditlog",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "accounts",
    "dossier",
    "crm",
    "nip",
    "dataplatform",
    "privacy",
    "demo",
    "outbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # /health/ and /ready/ are answered here, before anything reads a session or a user.
    "config.middleware.ProbeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.middleware.PrivateByDefaultMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "accounts.sessions.SessionLimitsMiddleware",
    "accounts.mfa.RequireMfaMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.navigation",
            ],
        },
    },
]
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"),
}
# Every request is one transaction: what a view wrote is undone when it fails.
DATABASES["default"]["ATOMIC_REQUESTS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A fresh clone has no var/ yet; SQLite cannot create the directory itself.
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Several threads or gunicorn workers write (sessions, cache): take the write lock at
    # the start of a transaction and let readers go on beside one writer.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # With IMMEDIATE, ATOMIC_REQUESTS would take the one write lock for every request,
    # page views included, and serialise the whole site under gunicorn. Only requests
    # that may write (POST, PUT, PATCH, DELETE) get a request transaction here; reads run
    # in autocommit beside them (WAL), and the few writes a GET makes (read marks,
    # sessions) are single statements. Relying on the services' own atomic blocks alone
    # would instead keep half of a POST whose view fails after its first service.
    DATABASES["default"]["ATOMIC_REQUESTS"] = False
    # Last, so that it wraps the view and little else, like ATOMIC_REQUESTS.
    MIDDLEWARE.append("config.middleware.WriteRequestTransactionMiddleware")
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A database that does not answer makes a request fail (503) in seconds, not minutes.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Login rate limits live in the cache, so the cache must be shared by every process:
# the database in the embedded default, Redis in production.
CACHES = {"default": env.cache("CACHE_URL", default="dbcache://django_cache")}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

# django-allauth: e-mail is the login, verification is mandatory.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = False
# Residents sign up through an initiative's form (a later issue), not through an open page.
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "1/3m/key",
    "signup": "20/m/ip",
}
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
# A code stays good for one 30-second step either side: a phone whose clock is a little off,
# or someone who types slowly, is not turned away (RFC 6238, 5.2, allows one step of drift).
MFA_TOTP_TOLERANCE = 1
MFA_ADAPTER = "accounts.mfa.MfaAdapter"
# Tracking would write a row on every request; sessions are still listed and can be ended.
USERSESSIONS_TRACK_ACTIVITY = False

LANGUAGE_CODE = "nl"
LANGUAGES = [("nl", _("Dutch"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Amsterdam"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "var" / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
# Uploads hold personal data: never served from a public URL, only through views.
MEDIA_URL = "/media-not-public/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env.bool("STATIC_MANIFEST", default=PRODUCTION)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# A larger request body (files apart) is refused with 413 (config/errors.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Production needs a real mail server; the embedded default prints mail to the console.
_email = env.email("EMAIL_URL") if PRODUCTION else env.email("EMAIL_URL", default="consolemail://")
_smtp_options = {
    "host": _email.get("EMAIL_HOST"),
    "port": _email.get("EMAIL_PORT"),
    "username": _email.get("EMAIL_HOST_USER"),
    "password": _email.get("EMAIL_HOST_PASSWORD"),
    "use_tls": _email.get("EMAIL_USE_TLS"),
    "use_ssl": _email.get("EMAIL_USE_SSL"),
    "timeout": 10,
}
if _email["EMAIL_BACKEND"].endswith("smtp.EmailBackend"):
    _mail_options = {k: v for k, v in _smtp_options.items() if v not in (None, "")}
elif _email["EMAIL_BACKEND"].endswith("filebased.EmailBackend"):
    # filemail:///var/mail/out writes each message as a file there (tests, staging).
    _mail_options = {"file_path": "/" + str(_email["EMAIL_FILE_PATH"]).lstrip("/")}
else:
    _mail_options = {}
MAILERS = {"default": {"BACKEND": _email["EMAIL_BACKEND"], "OPTIONS": _mail_options}}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Woningdossier <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Celery: with no broker configured, tasks run in-process (the embedded default).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 900
# No results in Redis: results could carry personal data and nothing reads them.
CELERY_TASK_IGNORE_RESULT = True
# A worker killed outright leaves its message unacknowledged for the visibility timeout;
# the jobs' leases (JOB_LEASE_SECONDS) have a new worker take them up long before that.
# A broker that is away must answer fast: a web request hands its tasks over after its
# commit (outbox.relay), and what the broker does not take waits in the outbox.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_connect_timeout": 2,
    "socket_timeout": 10,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# How long a running report or monitoring export is held by its worker without a sign of
# life; the worker renews it while it works. Past it, the sweep (every minute, and when a
# worker starts) has the job made again by another worker.
JOB_LEASE_SECONDS = env.int("JOB_LEASE_SECONDS", default=120)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# The one beat process runs these; each job finds what is due and does it once, so a job
# that runs twice (a beat restarted, a second beat by mistake) sends nothing twice.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Tasks recorded while the broker was away (outbox/relay.py); sent rows kept a week.
    "outbox-drain": {
        "task": "outbox.tasks.drain",
        "schedule": crontab(),  # every minute
    },
    # Reports and monitoring exports whose worker died (their lease ran out) are made
    # again; the same tasks run when a worker starts (config/celery.py).
    "dossier-advice-reports-sweep": {
        "task": "dossier.tasks.advice_reports_sweep",
        "schedule": crontab(),
    },
    "nip-monitoring-exports-sweep": {
        "task": "nip.tasks.monitoring_exports_sweep",
        "schedule": crontab(),
    },
    "crm-dossier-reminders": {
        "task": "crm.tasks.dossier_reminders",
        "schedule": crontab(hour=9, minute=0),
    },
    "crm-follow-ups": {
        "task": "crm.tasks.follow_ups",
        "schedule": crontab(hour=9, minute=30),
    },
    # Uploaded resident lists are kept for a day at most (crm/importing.py).
    "crm-import-uploads-purge": {
        "task": "crm.tasks.import_uploads_purge",
        "schedule": crontab(minute=20),
    },
    # RVO monitoring files made in the background are kept for a day (nip/monitoring.py).
    "nip-monitoring-exports-purge": {
        "task": "nip.tasks.monitoring_exports_purge",
        "schedule": crontab(minute=40),
    },
    # The outbox of publications to the provincial platform (dataplatform/delivery.py).
    "dataplatform-deliveries-send": {
        "task": "dataplatform.tasks.deliveries_send",
        "schedule": crontab(),  # every minute
    },
    # Every night a new publication per receiving organisation: consent withdrawn today
    # is out of tomorrow's figures.
    "dataplatform-publications-make": {
        "task": "dataplatform.tasks.publications_make",
        "schedule": crontab(hour=2, minute=0),
    },
    # Each initiative's retention periods (privacy/retention.py): what has expired is
    # anonymised or deleted, and each removal leaves a privacy.Removal row as proof.
    "privacy-retention-purge": {
        "task": "privacy.tasks.retention_purge",
        "schedule": crontab(hour=3, minute=15),
    },
}

# The data platform (dataplatform/): the smallest number of households a published cell
# may count (never below 5, whatever is set), and the provincial platform that receives
# publications as signed JSON. Without an endpoint, publications are made but not sent.
DATAPLATFORM_K = max(5, env.int("DATAPLATFORM_K", default=10))
DATAPLATFORM_ENDPOINT_URL = env.str("DATAPLATFORM_ENDPOINT_URL", default="")
DATAPLATFORM_SIGNING_KEY = env.str("DATAPLATFORM_SIGNING_KEY", default="")
DATAPLATFORM_TIMEOUT = env.float("DATAPLATFORM_TIMEOUT", default=30)

REST_FRAMEWORK = {
    # An initiative's API key first: a request without valid credentials then gets 401
    # with a Bearer challenge. A key authenticates no user, so only views that admit keys
    # (the CRM API and the aggregates API) let one in (accounts/authentication.py).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # JSON nested too deeply is a 400 with a message, not a RecursionError (a 500).
    "DEFAULT_PARSER_CLASSES": [
        "config.json_input.JsonParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Every API key and every person has a rate of calls (accounts/throttling.py); a
    # province reading every postcode of its aggregates page by page stays well inside it.
    "DEFAULT_THROTTLE_CLASSES": [
        "accounts.throttling.ApiCallerThrottle",
        "accounts.throttling.ApiOrganisationThrottle",
    ],
    # The public calculation endpoint is anonymous: a rate per client address keeps one
    # visitor from taking the server's time (the benchmark raises it).
    "DEFAULT_THROTTLE_RATES": {
        "api": env.str("API_THROTTLE_RATE", default="600/minute"),
        "api-organisation": env.str("API_ORGANISATION_THROTTLE_RATE", default="1200/minute"),
        "advice-calculate": env.str("CALCULATE_THROTTLE_RATE", default="60/minute"),
    },
    # Without this DRF trusts any X-Forwarded-For header, so a client could dodge its
    # rate by inventing addresses. Set it to the number of proxies in front of gunicorn.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Woningdossier API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # People who are logged in, and systems with an API key: they need the calls they may make.
    "SERVE_PERMISSIONS": ["accounts.authentication.IsLoggedInOrHasApiToken"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "accounts.throttling.schema_too_many_requests",
    ],
    # Fields named "status" and "kind" hold different choices in different apps; one
    # name per choice set keeps the schema free of generated names (and of warnings).
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "dossier.models.MeasureStatus",
        "KindEnum": "dossier.models.ComponentKind",
        "CaseStatusEnum": "crm.models.CaseStatus",
        "VisitStatusEnum": "crm.models.VisitStatus",
        "TaskKindEnum": "crm.models.TaskKind",
    },
}

# Security headers. Strict CSP with per-request nonces for the few inline scripts.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Messages can name a person ("logged in as ..."): keep them server-side, not in a cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 12 * 60 * 60
# accounts/sessions.py: a login ends after this long without a request, and this long
# after it began however busy.
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=60 * 60)
SESSION_ABSOLUTE_TIMEOUT = SESSION_COOKIE_AGE
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"

ADMINS = [("Beheer", a) for a in env.list("DJANGO_ADMINS", default=[])]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Request lines can carry query strings; keep them out of the log at INFO.
        "django.server": {"level": "WARNING"},
        # WeasyPrint reports every layout step at INFO; refused resources stay at ERROR.
        "weasyprint": {"level": "WARNING"},
        "weasyprint.progress": {"level": "WARNING"},
    },
}

AUDITLOG_INCLUDE_ALL_MODELS = False
AUDITLOG_DISABLE_REMOTE_ADDR = True
