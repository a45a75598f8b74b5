"""Configuration objects, read from the environment."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance"))


def _bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _database_url():
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'portal.db'}"
    # Heroku-style URLs name the dialect "postgres"; SQLAlchemy wants psycopg 3.
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class Config:
    """Production defaults; every secret comes from the environment."""

    SECRET_KEY = os.environ.get("SECRET_KEY")
    # Key for field encryption (ID numbers, phones, pass secrets, device secrets).
    DATA_KEY = os.environ.get("DATA_KEY")
    # Key rotation (portal.core.crypto, README "Rotating DATA_KEY"): DATA_KEY is key number DATA_KEY_ID; keys
    # still read are in DATA_OLD_KEYS ("1:<key>,2:<key>"); blind indexes keep DATA_INDEX_KEY (default: key 1).
    DATA_KEY_ID = int(os.environ.get("DATA_KEY_ID", "1"))
    DATA_OLD_KEYS = os.environ.get("DATA_OLD_KEYS", "")
    DATA_INDEX_KEY = os.environ.get("DATA_INDEX_KEY") or None
    SQLALCHEMY_DATABASE_URI = _database_url()
    # No pool_pre_ping (a SELECT 1 round trip per request): portal.core.connections pings only connections
    # idle for a second or more, and a disconnect on a busy one invalidates the pool (gate fails closed).
    SQLALCHEMY_ENGINE_OPTIONS = {}
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Secure unless explicitly in development (`make run` over http): a production cookie never crosses plain http.
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    PREFER_HTTPS = _bool("PREFER_HTTPS", False)
    STAFF_IDLE_MINUTES = int(os.environ.get("STAFF_IDLE_MINUTES", "30"))
    STAFF_ABSOLUTE_HOURS = int(os.environ.get("STAFF_ABSOLUTE_HOURS", "12"))
    RESIDENT_SESSION_DAYS = int(os.environ.get("RESIDENT_SESSION_DAYS", "30"))
    API_TOKEN_HOURS = int(os.environ.get("API_TOKEN_HOURS", "12"))
    # CSRF tokens expire (the form then says so and asks for a reload); long enough for a slow form.
    WTF_CSRF_TIME_LIMIT = int(os.environ.get("CSRF_TIME_LIMIT_SECONDS", str(4 * 3600)))
    # db:// is shared by every worker process (portal.core.ratelimit); memory:// counts per process and
    # gunicorn.conf.py refuses it with more than one worker.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "db://")
    RATELIMIT_STRATEGY = "moving-window"  # "30/minute" means 30 in any 60 s, not 59 across a minute boundary
    RATELIMIT_HEADERS_ENABLED = True
    BABEL_DEFAULT_LOCALE = "zh"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ["zh", "en"]
    SMS_BACKEND = os.environ.get("SMS_BACKEND", "console")
    TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID")
    TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN")
    TWILIO_FROM = os.environ.get("TWILIO_FROM")
    TWILIO_MESSAGING_SERVICE_SID = os.environ.get("TWILIO_MESSAGING_SERVICE_SID")
    # Only for tests and self-hosted gateways: where the Twilio client sends.
    TWILIO_API_BASE = os.environ.get("TWILIO_API_BASE")
    MQTT_URL = os.environ.get("MQTT_URL")
    REDIS_URL = os.environ.get("REDIS_URL")
    RETENTION_DAYS = int(os.environ.get("RETENTION_DAYS", "30"))
    # Days a closed patrol hazard keeps its photo (a site may set its own: portal.privacy).
    PATROL_PHOTO_RETENTION_DAYS = int(os.environ.get("PATROL_PHOTO_RETENTION_DAYS", "90"))
    # How often each worker writes the events of gate decisions that took nothing (portal.events.journal).
    EVENT_JOURNAL_MS = int(os.environ.get("EVENT_JOURNAL_MS", "100"))
    # Where queued events and the gate's spooled attempts are written ahead so a worker killed with SIGKILL
    # loses none (portal.events.ahead): empty for <instance>/journal, "off" to keep them in memory only.
    EVENT_JOURNAL_DIR = os.environ.get("EVENT_JOURNAL_DIR", "")
    QR_STEP_SECONDS = 30
    # Each worker's copy of what QR decisions read (portal.gate.cache); STALE_MS bounds, on PostgreSQL,
    # how long after its commit a revocation could still be missed (under load usually by the next scan).
    GATE_CACHE = _bool("GATE_CACHE", True)
    GATE_CACHE_STALE_MS = int(os.environ.get("GATE_CACHE_STALE_MS", "250"))
    GATE_CACHE_MAX = int(os.environ.get("GATE_CACHE_MAX", "10000"))
    # A device's first scan loads its site's live unlimited passes into the cache (at most once per
    # WARM_SECONDS and site after a change emptied it), so a pass's own first scan reads nothing.
    GATE_CACHE_WARM = _bool("GATE_CACHE_WARM", True)
    GATE_CACHE_WARM_SECONDS = float(os.environ.get("GATE_CACHE_WARM_SECONDS", "10"))
    # Open desk streams each hold a request thread until they end (docs/desk-stream.md): at most this many
    # per worker process (keep it at most half of gunicorn's --threads, so device calls always find a thread),
    # and per user per worker; extra streams get a JSON 503/429 and the board polls instead.
    DESK_STREAMS_PER_WORKER = int(os.environ.get("DESK_STREAMS_PER_WORKER", "4"))
    DESK_STREAMS_PER_USER = int(os.environ.get("DESK_STREAMS_PER_USER", "2"))
    # /metrics answers loopback only, or anyone sending this bearer token when it is set.
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None
    # How many proxies (nginx, a load balancer) stand in front: their X-Forwarded-For/-Proto are trusted.
    PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0"))
    # JSON lines (default) or human-readable text (development).
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")
    # Demo/dev conveniences stay off in production.
    DEMO_MODE = _bool("DEMO_MODE", False)
    TESTING = False


class DevelopmentConfig(Config):
    """Embedded default used by `make run`: SQLite, console SMS, simulated devices."""

    DEMO_MODE = True
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)  # served over http on 127.0.0.1
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE


class TestConfig(Config):
    """Settings for the test suite; each test app gets its own database."""

    TESTING = True
    SQLALCHEMY_DATABASE_URI = "sqlite://"  # never the embedded database; tests pass their own
    SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105 - the test configuration's key
    DATA_KEY = "dGVzdC1kYXRhLWtleS0zMi1ieXRlcy1sb25nLi4uLi4="
    WTF_CSRF_ENABLED = True
    SESSION_COOKIE_SECURE = False  # the test client speaks http; tests of the production default build their own app
    REMEMBER_COOKIE_SECURE = False
    RATELIMIT_STORAGE_URI = "memory://"
    SMS_BACKEND = "console"
    EVENT_JOURNAL_DIR = "off"  # test apps come and go by the thousand; tests of the write-ahead file set a directory
    SERVER_NAME = None
