"""Readiness checks: the database, and the MQTT broker and Redis when they are configured."""

import socket
import ssl
import time
from urllib.parse import unquote, urlsplit

from sqlalchemy import text

from portal.extensions import db

TIMEOUT_SECONDS = 2.0


def check_database():
    """One round trip on a pooled connection."""
    with db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def check_redis(url):
    """PING answered."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS)
    try:
        client.ping()
    finally:
        client.close()


def _mqtt_string(value: str) -> bytes:
    raw = value.encode("utf-8")
    return len(raw).to_bytes(2, "big") + raw


def _connect_packet(user, password):
    """An MQTT 3.1.1 CONNECT: clean session, 10 s keep-alive, optional user name and password."""
    flags, payload = 0x02, _mqtt_string(f"readyz-{time.monotonic_ns() % 10**9}")
    if user:
        flags |= 0x80
        payload += _mqtt_string(user)
        if password is not None:
            flags |= 0x40
            payload += _mqtt_string(password)
    variable = _mqtt_string("MQTT") + bytes([4, flags]) + (10).to_bytes(2, "big")
    body = variable + payload
    return bytes([0x10]) + _remaining_length(len(body)) + body


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def check_mqtt(url):
    """The broker accepts an MQTT connection (CONNACK with return code 0); a TCP accept alone is not enough."""
    parts = urlsplit(url)
    tls = parts.scheme in ("mqtts", "ssl")
    port = parts.port or (8883 if tls else 1883)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=TIMEOUT_SECONDS)
    try:
        if tls:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=parts.hostname)
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        sock.sendall(_connect_packet(user, password))
        answer = b""
        while len(answer) < 4:
            chunk = sock.recv(4 - len(answer))
            if not chunk:
                raise ConnectionError("broker closed the connection")
            answer += chunk
        if answer[0] != 0x20 or answer[3] != 0:
            raise ConnectionError(f"broker refused the connection (code {answer[3]})")
        sock.sendall(b"\xe0\x00")  # DISCONNECT
    finally:
        sock.close()


def run_checks(config):
    """{name: {"ok", "ms", "error"?}} for each configured part."""
    checks = {"database": check_database}
    if config.get("MQTT_URL"):
        checks["broker"] = lambda: check_mqtt(config["MQTT_URL"])
    if config.get("REDIS_URL"):
        checks["redis"] = lambda: check_redis(config["REDIS_URL"])
    results = {}
    for name, check in checks.items():
        started = time.perf_counter()
        try:
            check()
            results[name] = {"ok": True}
        except Exception as exc:  # any failure makes the part not ready; the class names it, not its message
            results[name] = {"ok": False, "error": type(exc).__name__}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return results
