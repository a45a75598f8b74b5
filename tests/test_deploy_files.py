"""deploy/: systemd units that systemd accepts, a Mosquitto config that Mosquitto runs, an nginx site, a compose
file and a Grafana dashboard that asks only for metrics the portal serves; gunicorn with the repository's config."""

import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml
from conftest import skip_unless

from portal.config import TestConfig
from portal.ops import health

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_systemd_units_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    assert {u.name for u in UNITS} == {"portal.service", "portal-bridge.service", "portal-worker.service"}
    copies = []
    for unit in UNITS:
        # /opt/portal is where the README installs the code; here the checkout and its .venv stand in for it.
        text = (
            unit.read_text()
            .replace("/opt/portal", str(ROOT))
            .replace("/etc/portal/portal.env", str(DEPLOY / "portal.env.example"))
        )
        copy = tmp_path / unit.name
        copy.write_text(text)
        copies.append(str(copy))
    done = subprocess.run([analyze, "verify", *copies], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr  # warnings (a mistyped key) count too
    portal = (DEPLOY / "systemd" / "portal.service").read_text()
    assert "gunicorn.conf.py" in portal and "PROMETHEUS_MULTIPROC_DIR=/run/portal/metrics" in portal
    assert "bridge run" in (DEPLOY / "systemd" / "portal-bridge.service").read_text()
    assert "worker run" in (DEPLOY / "systemd" / "portal-worker.service").read_text()


def test_nginx_site_streams_unbuffered_over_tls_and_passes_the_client_address():
    site = (DEPLOY / "nginx" / "portal.conf").read_text()
    assert re.search(r"listen 443 ssl( http2)?;", site) and "ssl_certificate " in site and "return 301 https://" in site
    stream = re.search(r"location ~ \^/\(desk\|api/v1/desk\)/stream\$ \{(.*?)\}", site, re.DOTALL)
    assert stream and "proxy_buffering off;" in stream.group(1)
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in site
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in site
    assert re.search(r"location = /metrics \{\s*deny all;", site)
    # ProxyFix believes exactly as many proxies as stand in front: one nginx.
    assert re.search(r"^PROXY_COUNT=1$", (DEPLOY / "portal.env.example").read_text(), re.MULTILINE)


def _self_signed(tmp_path):
    """A throwaway certificate and key for visit.example.com, so nginx -t can load the site's TLS settings."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "visit.example.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp_path / "key.pem").write_bytes(pem)


def test_nginx_accepts_the_site(tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        pytest.skip("nginx is not installed (Debian: apt-get install nginx-light; .ci/run does)")
    _self_signed(tmp_path)
    site = (DEPLOY / "nginx" / "portal.conf").read_text()
    site = site.replace("/etc/letsencrypt/live/visit.example.com/fullchain.pem", str(tmp_path / "cert.pem"))
    site = site.replace("/etc/letsencrypt/live/visit.example.com/privkey.pem", str(tmp_path / "key.pem"))
    (tmp_path / "site.conf").write_text(site)
    main = f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\nhttp {{\n    include {tmp_path}/site.conf;\n}}\n"
    (tmp_path / "nginx.conf").write_text(main)
    args = [nginx, "-t", "-q", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_compose_runs_postgres_redis_and_mosquitto_with_the_recommended_settings():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert set(compose["services"]) == {"postgres", "redis", "mosquitto"}
    for service in compose["services"].values():
        assert all(p.startswith("127.0.0.1:") for p in service.get("ports", []))  # nothing open to the network
    redis_cmd = compose["services"]["redis"]["command"]
    assert redis_cmd[redis_cmd.index("--maxmemory-policy") + 1] == "noeviction"
    mounted = [v.split(":")[0] for v in compose["services"]["mosquitto"]["volumes"]]
    assert "./mosquitto/mosquitto.conf" in mounted
    conf = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text()
    assert re.search(r"^set_tcp_nodelay true$", conf, re.MULTILINE)
    assert re.search(r"^allow_anonymous false$", conf, re.MULTILINE)


@pytest.mark.integration
def test_mosquitto_runs_the_deploy_config_and_readyz_needs_its_password(tmp_path):
    mosquitto, passwd = shutil.which("mosquitto") or "/usr/sbin/mosquitto", shutil.which("mosquitto_passwd")
    skip_unless(os.path.exists(mosquitto) and passwd, "mosquitto is not installed")
    port = _free_port()
    conf = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text()
    conf = conf.replace("listener 1883", f"listener {port} 127.0.0.1").replace("/mosquitto/data/", f"{tmp_path}/")
    conf = conf.replace("/mosquitto/config/passwd", f"{tmp_path}/passwd")
    if os.geteuid() == 0:
        conf += "user root\n"  # as root Mosquitto would switch to its own user, who cannot read pytest's tmp_path
    (tmp_path / "mosquitto.conf").write_text(conf)
    subprocess.run([passwd, "-c", "-b", str(tmp_path / "passwd"), "bridge", "s3cret-bridge"], check=True, capture_output=True)
    (tmp_path / "passwd").chmod(0o600)
    proc = subprocess.Popen([mosquitto, "-c", str(tmp_path / "mosquitto.conf")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                health.check_mqtt(f"mqtt://bridge:s3cret-bridge@127.0.0.1:{port}")
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.monotonic() < deadline
                time.sleep(0.1)
        with pytest.raises(ConnectionError, match="refused"):
            health.check_mqtt(f"mqtt://127.0.0.1:{port}")  # anonymous
        with pytest.raises(ConnectionError, match="refused"):
            health.check_mqtt(f"mqtt://bridge:wrong@127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(10)


def test_grafana_dashboard_asks_only_for_metrics_the_portal_serves(client):
    dashboard = json.loads((DEPLOY / "grafana" / "portal-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    served = set(re.findall(r"^# TYPE (\w+)", client.get("/metrics").get_data(as_text=True), re.MULTILINE))
    asked = {m for e in exprs for m in re.findall(r"\b(portal_\w+)", e)}
    families = {re.sub(r"_(bucket|count|sum|total)$", "", m) for m in asked}
    assert families <= {re.sub(r"_total$", "", m) for m in served}, families - served
    assert {"portal_gate_decisions", "portal_gate_decision_seconds", "portal_bridge_queue_depth"} <= families


def test_gunicorn_with_the_repository_config_sums_workers_and_logs_json(app, world, tmp_path):
    _, header = world.device()
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "INSTANCE_PATH": str(tmp_path),
        "SECRET_KEY": TestConfig.SECRET_KEY,
        "DATA_KEY": TestConfig.DATA_KEY,
        "LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    log = (tmp_path / "gunicorn.log").open("w")
    gunicorn = str(ROOT / ".venv" / "bin" / "gunicorn")
    args = [gunicorn, "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "2"]
    proc = subprocess.Popen([*args, "--access-logfile", "-", "wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                requests.get(f"{base}/healthz", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):  # workers still importing the app
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()[-2000:]
                time.sleep(0.05)
        with requests.Session() as s:  # new connections: both workers answer some
            for _ in range(12):
                r = requests.post(f"{base}/api/v1/gate/verify", json={"qr": "NOTAPASS"}, headers=header, timeout=10)
                assert r.json()["reason"] == "bad_signature"
            text = s.get(f"{base}/metrics", timeout=10).text
        assert 'portal_gate_decisions_total{decision="deny",reason="bad_signature"} 12.0' in text
        probe = requests.get(f"{base}/readyz", headers={"X-Request-ID": "deploy-test-0001"}, timeout=10)
        assert probe.status_code == 200 and probe.headers["X-Request-ID"] == "deploy-test-0001"
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
    lines = [json.loads(line) for line in (tmp_path / "gunicorn.log").read_text().splitlines() if line.startswith('{"ts"')]
    access = [e for e in lines if e.get("logger") == "access"]
    assert any(e["logger"] == "gunicorn.error" and "Booting worker" in e["msg"] for e in lines)  # gunicorn's own, JSON too
    assert any(e["request_id"] == "deploy-test-0001" and e["status"] == 200 for e in access)
    assert header["Authorization"].split()[1] not in (tmp_path / "gunicorn.log").read_text()
