"""Where a gate decision's cost goes under load: CPU per request of each process class, bare Flask vs the portal.

The same set-up as bench/gate_verify.py (seeded site, gunicorn, wrk at 16 connections, on SQLite and,
with DATABASE_URL pointing at it, PostgreSQL). Around each wrk run it sums the CPU time /proc reports
for the gunicorn master and workers, the PostgreSQL backends serving the bench's database (not the
server's background writers, nor other people's tests on the shared server) and wrk, and divides by the
requests served. On a machine where every core is busy the throughput ratio is the ratio of these
totals, so this shows which side a change has to shrink; the last column is bare Flask's total over the
scenario's (issue #20's target is 60 % for qr, qr_new and qr_first). Prints a table and writes
bench/results/gate_cpu.json.
"""

import json
import os
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("PORTAL_TEST_FAST_HASH", "1")

import gate_verify as gv  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench import _gate_seed as seed  # noqa: E402

SECONDS = int(os.environ.get("GATE_CPU_SECONDS", "8"))
RESULTS = ROOT / "bench" / "results" / "gate_cpu.json"
# (server, path): "flask" is bare Flask on its own gunicorn, "first" the portal with GATE_CACHE=0 (first scans).
SCENARIOS = {
    "flask": ("flask", "/bench/bare"),
    "bare": ("main", "/bench/bare"),
    "bare_read": ("main", "/bench/bare-read"),
    "qr": ("main", "/api/v1/gate/verify"),
    "qr_new": ("main", "/api/v1/gate/verify"),
    "qr_first": ("first", "/api/v1/gate/verify"),
}


def _wrk_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(label, url, workdir):
    """CPU µs per request of each process class, for each scenario, on one database."""
    world, port, proc = gv.serve_seeded(label, url, workdir)
    servers = {"main": (port, proc)}
    database = make_url(url).database if label == "postgresql" else None  # the server is shared: count our backends
    figures = {}
    try:
        servers |= gv._serve_more(url, label, workdir)
        gv.wrk(servers["flask"][0], "/bench/bare", world.token, [{"qr": "x"}], 2, workdir)  # warm every worker
        gv.wrk(servers["first"][0], "/api/v1/gate/verify", world.token, seed.qr_bodies(url, world, gv.KEYS), 2, workdir)
        for name, (server, path) in SCENARIOS.items():
            port, proc = servers[server]
            if name == "qr_new":
                bodies = seed.new_qr_bodies(url, world, gv.KEYS)  # texts no worker verified: each checks its signature
            else:
                bodies = seed.qr_bodies(url, world, gv.KEYS) if path.startswith("/api/") else [{"qr": "x"}]
            before, wrk_before = gv.cpu_by_class(proc.pid, database), _wrk_cpu()
            run = gv.wrk(port, path, world.token, bodies, SECONDS, workdir)
            after, wrk_after = gv.cpu_by_class(proc.pid, database), _wrk_cpu()
            per = {k: round((after[k] - before[k]) / run["requests"] * 1e6) for k in after}
            per["wrk"] = round((wrk_after - wrk_before) / run["requests"] * 1e6)
            if database is None:
                per["postgres"] = 0  # SQLite: whatever the shared server did meanwhile is other people's work
            figures[name] = {"rps": run["rps"], "p99_ms": run["p99_ms"], "cpu_us_per_request": per, "total_us": sum(per.values())}
    finally:
        gv._stop([p for _, p in servers.values()])
    flask_total = figures["flask"]["total_us"]
    for f in figures.values():
        f["total_vs_flask"] = round(f["total_us"] / flask_total, 3)
    return figures


def main():
    """SQLite, and PostgreSQL when DATABASE_URL points at it; print and save the figures."""
    load = [round(x, 2) for x in os.getloadavg()]  # a shared machine: the figures only mean something next to its load
    results = gv.each_database(measure, "gate-cpu-")
    print("CPU µs per request")
    head = f"{'database':<11} {'scenario':<9} {'req/s':>7} {'gunicorn':>9} {'postgres':>9} {'wrk':>5} {'total':>6}"
    print(head + f" {'Flask/total':>12}")
    for label, figures in results.items():
        for name, f in figures.items():
            c = f["cpu_us_per_request"]
            print(
                f"{label:<11} {name:<9} {f['rps']:>7.0f} {c['gunicorn']:>9} {c['postgres']:>9} {c['wrk']:>5} {f['total_us']:>6}"
                f" {1 / f['total_vs_flask'] * 100:>11.0f}%"
            )
    RESULTS.parent.mkdir(exist_ok=True)
    load_average = {"before": load, "after": [round(x, 2) for x in os.getloadavg()]}
    report = {"benchmark": "gate_cpu", "seconds": SECONDS, "cpus": os.cpu_count(), "load_average": load_average}
    report["results"] = results
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
