"""/healthz, /readyz and /metrics as a load balancer, an orchestrator and Prometheus see them."""

import os
import re
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
from gate_support import reason
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from portal.app import create_app
from portal.config import TestConfig
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.ops import metrics as ops_metrics


def _sample(text, name, **labels):
    """The value of one sample in Prometheus text (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" ([0-9.e+-]+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_healthz_answers_without_the_database(tmp_path):
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing/dir/portal.db")
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok"}
    assert len(resp.headers["X-Request-ID"]) >= 8


def test_readyz_ok_names_each_check(client):
    resp = client.get("/readyz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "ok" and body["failing"] == [] and body["checks"]["database"]["ok"] is True


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("postgresql+psycopg://postgres@127.0.0.1:1/closed", id="postgres-on-a-closed-port"),
        pytest.param("sqlite:///{tmp}/no/such/dir/portal.db", id="sqlite-file-that-cannot-open"),
    ],
)
def test_readyz_is_503_naming_an_unreachable_database(tmp_path, url):
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url.format(tmp=tmp_path))
    client = app.test_client()
    resp = client.get("/readyz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["status"] == "fail" and body["failing"] == ["database"]
    assert body["checks"]["database"]["ok"] is False and body["checks"]["database"]["error"]
    assert "127.0.0.1" not in resp.get_data(as_text=True)  # the class of the failure, not its connection details
    assert client.get("/healthz").status_code == 200  # alive, only not ready


def test_readyz_checks_broker_and_redis_when_configured(app, client):
    app.config.update(MQTT_URL="mqtt://127.0.0.1:1", REDIS_URL="redis://127.0.0.1:1/0")
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["failing"] == ["broker", "redis"]
    assert resp.get_json()["checks"]["database"]["ok"] is True


@pytest.mark.integration
def test_readyz_against_the_real_broker_and_redis(app, client):
    from conftest import skip_unless

    mqtt, redis_url = os.environ.get("MQTT_URL"), os.environ.get("REDIS_URL")
    skip_unless(mqtt and redis_url, "MQTT_URL and REDIS_URL not set")
    app.config.update(MQTT_URL=mqtt, REDIS_URL=redis_url)
    resp = client.get("/readyz")
    assert resp.status_code == 200, resp.get_json()
    assert set(resp.get_json()["checks"]) == {"database", "broker", "redis"}


def test_metrics_count_gate_decisions_and_their_time(client, world):
    p = world.make_pass(max_entries=1)
    _, header = world.device()
    from portal.passes import codes

    before = client.get("/metrics").get_data(as_text=True)
    text = codes.qr_text(p)
    assert reason(client, header, qr=text) == ("grant", "ok")
    assert reason(client, header, qr=text) == ("deny", "used_up")
    assert reason(client, header, qr="garbage") == ("deny", "bad_signature")
    after = client.get("/metrics").get_data(as_text=True)
    total = "portal_gate_decisions_total"
    assert _sample(after, total, decision="grant", reason="ok") - _sample(before, total, decision="grant", reason="ok") == 1
    assert (
        _sample(after, total, decision="deny", reason="used_up") - _sample(before, total, decision="deny", reason="used_up") == 1
    )
    hist = "portal_gate_decision_seconds_count"
    assert _sample(after, hist) - _sample(before, hist) == 3
    assert "# TYPE portal_gate_decision_seconds histogram" in after


def test_metrics_read_the_bridge_queue_sms_and_job_lag_from_the_database(client, world):
    from portal.bridge.models import DeviceCredential
    from portal.extensions import db
    from portal.notify.models import Message

    device, _ = world.device()
    long_ago = utcnow() - timedelta(minutes=2)
    waiting = DeviceCredential(device_id=device.id, key="V1", desired="present", status="pending", updated_at=long_ago)
    failing = DeviceCredential(device_id=device.id, key="V2", desired="absent", status="failed", updated_at=utcnow())
    sms = Message(to="+8613812345678", body="hello", purpose="invite", status="queued", next_attempt_at=long_ago)
    db.session.add_all([waiting, failing, sms])
    db.session.commit()
    ops_metrics.forget_cache()
    text = client.get("/metrics").get_data(as_text=True)
    assert _sample(text, "portal_bridge_queue_depth") == 1 and _sample(text, "portal_bridge_push_failures") == 1
    assert 119 < _sample(text, "portal_bridge_oldest_pending_seconds") < 600
    assert _sample(text, "portal_devices", state="pending") == 1
    assert _sample(text, "portal_sms_messages", status="queued") == 1
    assert 119 < _sample(text, "portal_job_lag_seconds", queue="sms_outbox") < 600
    # Acknowledged and sent: the gauges follow at the next read (they are cached a few seconds between scrapes).
    waiting.status, sms.status = "ok", "delivered"
    db.session.commit()
    ops_metrics.forget_cache()
    text = client.get("/metrics").get_data(as_text=True)
    assert _sample(text, "portal_bridge_queue_depth") == 0 and _sample(text, "portal_bridge_oldest_pending_seconds") == 0
    assert _sample(text, "portal_sms_messages", status="delivered") == 1
    assert _sample(text, "portal_job_lag_seconds", queue="sms_outbox") == 0


def test_metrics_are_refused_to_other_addresses_without_the_token(app, client):
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=outside).status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    app.config["METRICS_TOKEN"] = "scrape-secret-0123456789"
    assert client.get("/metrics", environ_base=outside).status_code == 403
    wrong = {"Authorization": "Bearer scrape-secret-wrong"}
    assert client.get("/metrics", environ_base=outside, headers=wrong).status_code == 403
    # With a token set, loopback needs it too: a proxy on the same host would otherwise open it to everyone.
    assert client.get("/metrics").status_code == 403
    right = {"Authorization": "Bearer scrape-secret-0123456789"}
    resp = client.get("/metrics", environ_base=outside, headers=right)
    assert resp.status_code == 200 and "portal_gate_decisions_total" in resp.get_data(as_text=True)


def test_proxy_count_takes_the_client_address_from_the_trusted_proxy_only(tmp_path):
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/p.db", PROXY_COUNT=1)
    with app.app_context():
        db.create_all()  # /metrics reads the tables (another test's cached families must not hide that)
    ops_metrics.forget_cache()
    client = app.test_client()
    # nginx on this host appends the real client; a client's own forged entry before it is not believed.
    forged = {"X-Forwarded-For": "127.0.0.1, 203.0.113.9"}
    assert client.get("/metrics", headers=forged).status_code == 403
    assert client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200


_CHILD = textwrap.dedent(
    """
    import time
    from portal.core import metrics
    for _ in range(3):
        metrics.gate_decision("grant", "ok", time.perf_counter())
    metrics.DESK_STREAMS.inc()
    """
)


def test_counters_from_several_worker_processes_add_up(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    pids = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", _CHILD + "print(__import__('os').getpid())"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        pids.append(int(done.stdout))
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    text = generate_latest(registry).decode()
    assert _sample(text, "portal_gate_decisions_total", decision="grant", reason="ok") == 6
    assert _sample(text, "portal_gate_decision_seconds_count") == 6
    # gunicorn.conf.py's child_exit: a dead worker's open streams stop counting, its decisions stay counted.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pids[0], path=str(tmp_path))
    text = generate_latest(registry).decode()
    assert _sample(text, "portal_desk_streams_open") == 1
    assert _sample(text, "portal_gate_decisions_total", decision="grant", reason="ok") == 6
