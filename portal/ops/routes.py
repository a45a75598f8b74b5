"""GET /healthz, /readyz and /metrics: for load balancers, orchestrators and Prometheus, never for people."""

import hmac
import ipaddress

from flask import Blueprint, Response, current_app, jsonify, request

from portal.core.errors import ApiError
from portal.core.i18n import N_
from portal.extensions import limiter
from portal.ops import health, metrics

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """The process answers; nothing else is touched (a database outage must not restart every worker)."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
@limiter.exempt
def readyz():
    """Each configured part checked; 503 naming the failing ones, so a load balancer sends traffic elsewhere."""
    checks = health.run_checks(current_app.config)
    failing = sorted(name for name, result in checks.items() if not result["ok"])
    body = {"status": "fail" if failing else "ok", "failing": failing, "checks": checks}
    return jsonify(body), 503 if failing else 200


def _metrics_allowed():
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


@bp.get("/metrics")
@limiter.exempt
def metrics_page():
    """Prometheus text format: to loopback only, or to whoever sends METRICS_TOKEN as a bearer token."""
    if not _metrics_allowed():
        raise ApiError(403, "forbidden", N_("Metrics are served to this host only, or with the metrics token."))
    return Response(metrics.exposition(), mimetype="text/plain; version=0.0.4; charset=utf-8")
