"""Load and faults (issue #20): 2 portal processes and 2 bridge workers under load while their servers fail.

Private PostgreSQL, Redis and Mosquitto (bench/_services.py: never the shared ones, which this run
restarts), a community of LOAD_FAULTS_BUILDINGS buildings with 1,000 esp-rfid doors over MQTT
(tests/fakes/esp_rfid_device.py --count 1000) spread over them, two gunicorn portals (one gthread
worker each, behind a round-robin client) and two `flask --app wsgi bridge run` workers sharing the
doors through their leases. For LOAD_FAULTS_SECONDS (60) it sends 200 QR decisions/s, 10 pass
creations/s and 1 revocation/s (bench/_load_gen.py), and meanwhile restarts PostgreSQL, restarts
Mosquitto, SIGKILLs a bridge worker (started again 2 s later, as systemd's RestartSec=2 would) and
SIGKILLs a portal worker (its gunicorn master starts another). Verdicts (bench/_load_verdicts.py):
0 wrong grants, 0 lost access events, every revocation on every door (the bridge's acks and each
fake door's own table), decision p99 outside the faults, the fail-closed window of each fault and
revocation p99 (commit to the last door's ack). Prints them and writes bench/results/load_faults.json;
exits 1 when a verdict fails. LOAD_FAULTS_FAULTS=pg,mqtt,bridge,portal picks the faults.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PORTAL_TEST_FAST_HASH", "1")

from bench import _load_verdicts as verdicts  # noqa: E402
from bench import _load_world as world_mod  # noqa: E402
from bench._load_gen import Load  # noqa: E402
from bench._services import Servers, available, free_port  # noqa: E402

SECONDS = float(os.environ.get("LOAD_FAULTS_SECONDS", "60"))
RATES = {
    "verify": float(os.environ.get("LOAD_FAULTS_VERIFY_RATE", "200")),
    "create": float(os.environ.get("LOAD_FAULTS_CREATE_RATE", "10")),
    "revoke": float(os.environ.get("LOAD_FAULTS_REVOKE_RATE", "1")),
}
FAULTS = [f for f in os.environ.get("LOAD_FAULTS_FAULTS", "pg,mqtt,bridge,portal").split(",") if f]
SCALE = {
    "doors": int(os.environ.get("LOAD_FAULTS_DOORS", "1000")),
    "buildings": int(os.environ.get("LOAD_FAULTS_BUILDINGS", "100")),
    "readers": 8,
    "live_per_building": 5,
    "expired": 50,
}
LEASE = int(os.environ.get("LOAD_FAULTS_LEASE", "10"))
SETTLE = float(os.environ.get("LOAD_FAULTS_SETTLE", "90"))
AT = {"pg": 0.2, "mqtt": 0.4, "bridge": 0.55, "portal": 0.75}  # share of the run at which each fault hits
RESTART_SEC = 2.0  # deploy/systemd: RestartSec=2
RESULTS = ROOT / "bench" / "results" / "load_faults.json"


def healthy(port, timeout, proc):
    """Wait until the portal on port answers /healthz; False if it did not in time or its process ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Cluster:
    """The portal and bridge processes, the door fleet, and the faults done to them."""

    def __init__(self, servers, url, prefix, doors, lease=LEASE):
        self.servers, self.prefix, self.procs, self.doors, self.lease = servers, prefix, [], doors, lease
        self.logs = servers.root
        self.env = (
            os.environ
            | world_mod.KEYS
            | {
                "DATABASE_URL": url,
                "REDIS_URL": servers.redis_url,
                "MQTT_URL": servers.mqtt_url,
                "RATELIMIT_STORAGE_URI": servers.redis_url,
                "PORTAL_ENV": "production",
                "LOG_LEVEL": "WARNING",
                "INSTANCE_PATH": str(servers.root),
            }
        )
        self.ports, self.portals, self.bridges = [], [], []

    def _spawn(self, cmd, log, **env):
        proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env | env, stdout=open(self.logs / log, "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115
        self.procs.append(proc)
        return proc

    def start_portals(self, count):
        """count gunicorns started together; returns once each answers /healthz."""
        for i in range(count):
            port = free_port()
            cmd = [str(ROOT / ".venv/bin/gunicorn"), "--workers", "1", "--worker-class", "gthread", "--threads", "4"]
            cmd += ["--bind", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"]
            metrics = self.logs / f"metrics-{i}"
            self.portals.append(self._spawn(cmd, f"portal-{i}.log", PROMETHEUS_MULTIPROC_DIR=str(metrics)))
            self.ports.append(port)
        for i, (port, proc) in enumerate(zip(self.ports, self.portals, strict=True)):
            if not healthy(port, 60, proc):
                raise RuntimeError(f"portal {i} did not start; see {self.logs}/portal-{i}.log")

    def start_bridge(self, i, max_devices):
        cmd = [sys.executable, "-m", "flask", "--app", "wsgi", "bridge", "run", "--threads", "64", "--poll", "0.2"]
        cmd += ["--lease", str(self.lease), "--max-devices", str(max_devices)]
        proc = self._spawn(cmd, f"bridge-{i}.log")
        if i < len(self.bridges):
            self.bridges[i] = proc
        else:
            self.bridges.append(proc)

    def start_fleet(self):
        fake = str(ROOT / "tests" / "fakes" / "esp_rfid_device.py")
        cmd = [sys.executable, fake, "--url", self.servers.mqtt_url, "--prefix", self.prefix, "--count", str(self.doors)]
        fleet = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        self.procs.append(fleet)
        if fleet.stdout.readline().strip() != "ready":
            raise RuntimeError("esp-rfid fleet did not start")

    def worker_of(self, master):
        """The gunicorn worker of a master (its only child)."""
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                if int(stat[stat.rindex(")") + 2 :].split()[1]) == master.pid:
                    return int(entry)
        return None

    def fault(self, name, max_devices):
        """Do one fault; returns when what was broken runs again."""
        if name == "pg":
            self.servers.pg.restart()
        elif name == "mqtt":
            self.servers.mqtt.restart()
        elif name == "bridge":
            self.bridges[0].send_signal(signal.SIGKILL)
            self.bridges[0].wait()
            time.sleep(RESTART_SEC)
            self.start_bridge(0, max_devices)
        elif name == "portal":
            os.kill(self.worker_of(self.portals[0]), signal.SIGKILL)
            healthy(self.ports[0], 60, self.portals[0])  # the master forks a new worker; up again when it answers

    def stop(self):
        """SIGTERM everything (gunicorn's graceful stop writes the journals out), SIGKILL what hangs."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def inject(cluster, start, seconds, faults, max_devices, log):
    """Run the faults at their moments of the run, noting when each began and how long it took."""
    for name in sorted(faults, key=lambda f: AT[f]):
        wait = start + AT[name] * seconds - time.time()
        if wait > 0:
            time.sleep(wait)
        at = time.time()
        cluster.fault(name, max_devices)
        log.append({"fault": name, "at": at, "took_s": round(time.time() - at, 3)})
        print(f"  fault {name} at +{at - start:.1f} s, back after {time.time() - at:.2f} s", flush=True)


def run(seconds=SECONDS, faults=FAULTS, rates=None, lease=LEASE, **scale):
    """The whole scenario (scale overrides SCALE, rates RATES; lease is the bridges' --lease); returns the report."""
    from portal.extensions import db

    scale, rates = SCALE | scale, RATES | (rates or {})
    doors = scale["doors"]
    with Servers() as servers:
        app = world_mod.make_app(servers.database_url)
        prefix = f"lf/{uuid.uuid4().hex[:8]}"
        t0 = time.time()
        world = world_mod.build(app, servers.mqtt_url, prefix, **scale)
        print(f"seeded in {time.time() - t0:.1f} s", flush=True)
        cluster = Cluster(servers, servers.database_url, prefix, doors, lease)
        max_devices = (doors + scale["readers"] + 1) // 2
        try:
            cluster.start_fleet()
            cluster.start_portals(2)
            for i in range(2):
                cluster.start_bridge(i, max_devices)
            rows = len(world.live) * doors // scale["buildings"]
            if not world_mod.wait_settled(app, 180, rows):
                raise RuntimeError("the bridges did not push the seeded passes to every door")
            print(f"cluster up and doors loaded in {time.time() - t0:.1f} s", flush=True)
            signer = world_mod.Signer(app, world.site_id)
            load = Load(world, signer, cluster.ports, seconds, rates)
            since = datetime.now(UTC) - timedelta(seconds=1)
            log = []
            start = time.time() + 2
            args = (cluster, start, seconds, faults, max_devices, log)
            injector = threading.Thread(target=inject, args=args, daemon=True)
            injector.start()
            load.run(start)
            end = time.time()
            injector.join()
            print(f"load done in {end - start:.1f} s; waiting for the doors to settle", flush=True)
            settled = world_mod.wait_settled(app, SETTLE)
            tables = verdicts.door_tables(servers.mqtt_url, prefix, doors)
        finally:
            cluster.stop()
        report = verdict(app, world, load, log, (start, end, since), settled, tables, rates, lease)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return report


def verdict(app, world, load, log, times, settled, tables, rates, lease=LEASE):
    """The report: rates achieved, the five verdicts and the figures."""
    samples, (start, end, since) = load.samples, times
    wrong, within = verdicts.wrong_grants(samples, load, world.expired)
    events = verdicts.lost_events(app, samples, world.gate_device_ids, since)
    latencies, unreached = verdicts.revocations(app, load)
    doors, still = verdicts.on_doors(tables, load, world)
    faults = verdicts.windows(samples, log, end)
    calm = verdicts.outside_faults(samples, faults)
    report = {
        "benchmark": "load_faults",
        "seconds": round(end - start, 1),
        "target_rates": rates,
        "achieved": verdicts.rates(samples, end - start),
        "portals": "2 gunicorn processes (1 gthread worker, 4 threads each), round robin, next on refusal",
        "bridges": f"2 workers, lease {lease} s, --max-devices {(world.doors + len(world.gate_tokens) + 1) // 2}",
        "doors": world.doors,
        "buildings": world.buildings,
        "doors_per_pass": world.doors // world.buildings,
        "passes_created": len(load.created),
        "passes_revoked": len(load.revoked),
        "wrong_grants": len(wrong),
        "wrong_grant_samples": wrong[:10],
        "revoked_grants_within_cache_bound": within,
        "events": events,
        "revocations_unreached": len(unreached),
        "revocations_unreached_samples": {str(k): v[:5] for k, v in list(unreached.items())[:5]},
        "credentials_settled": settled,
        "doors_check": doors,
        "revoked_still_on_doors_samples": verdicts.rows_of(app, still[:5]),
        "decision_ms_outside_faults": {"p50": verdicts.ms(calm, 50), "p99": verdicts.ms(calm, 99), "n": len(calm)},
        "revocation_s": {
            "p50": round(verdicts.pct(latencies, 50), 3) if latencies else None,
            "p99": round(verdicts.pct(latencies, 99), 3) if latencies else None,
            "max": round(max(latencies), 3) if latencies else None,
        },
        "faults": [{k: (round(v - start, 2) if k == "at" else v) for k, v in f.items()} for f in faults],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    report["ok"] = (
        report["wrong_grants"] == 0
        and events["lost"] == 0
        and not unreached
        and doors["revoked_still_on_doors"] == 0
        and doors["doors_reporting"] == world.doors
    )
    return report


def main():
    """Run, print and save."""
    missing = available()
    if missing:
        print(f"load_faults: skipped, not installed: {', '.join(missing)}")
        return 0
    report = run()
    print(json.dumps(report, indent=2))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}; verdicts {'met' if report['ok'] else 'NOT met'}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
