"""Where a gate decision's cost goes under load: CPU per request of each process class, bare vs QR.

The same set-up as bench/gate_verify.py (seeded site, gunicorn, wrk at 16 connections, on SQLite and,
with DATABASE_URL pointing at it, PostgreSQL). Around each wrk run it sums the CPU time /proc reports
for the gunicorn master and workers, the PostgreSQL server's processes and wrk, and divides by the
requests served. On a machine where every core is busy the throughput ratio is the ratio of these
totals, so this shows which side a change has to shrink. Prints a table and writes
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

from bench import _gate_seed as seed  # noqa: E402

SECONDS = int(os.environ.get("GATE_CPU_SECONDS", "8"))
RESULTS = ROOT / "bench" / "results" / "gate_cpu.json"
PATHS = {"bare": "/bench/bare", "bare_read": "/bench/bare-read", "qr": "/api/v1/gate/verify"}


def _wrk_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(label, url, workdir):
    """CPU µs per request of each process class, for each scenario, on one database."""
    world, port, proc = gv.serve_seeded(label, url, workdir)
    figures = {}
    try:
        for name, path in PATHS.items():
            bodies = seed.qr_bodies(url, world, gv.KEYS) if name == "qr" else [{"qr": "x"}]
            before, wrk_before = gv.cpu_by_class(proc.pid), _wrk_cpu()
            run = gv.wrk(port, path, world.token, bodies, SECONDS, workdir)
            after, wrk_after = gv.cpu_by_class(proc.pid), _wrk_cpu()
            per = {k: round((after[k] - before[k]) / run["requests"] * 1e6) for k in after}
            per["wrk"] = round((wrk_after - wrk_before) / run["requests"] * 1e6)
            figures[name] = {"rps": run["rps"], "p99_ms": run["p99_ms"], "cpu_us_per_request": per, "total_us": sum(per.values())}
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    return figures


def main():
    """SQLite, and PostgreSQL when DATABASE_URL points at it; print and save the figures."""
    results = gv.each_database(measure, "gate-cpu-")
    print("CPU µs per request")
    print(f"{'database':<11} {'scenario':<9} {'req/s':>7} {'gunicorn':>9} {'postgres':>9} {'wrk':>5} {'total':>6}")
    for label, figures in results.items():
        for name, f in figures.items():
            c = f["cpu_us_per_request"]
            print(
                f"{label:<11} {name:<9} {f['rps']:>7.0f} {c['gunicorn']:>9} {c['postgres']:>9} {c['wrk']:>5} {f['total_us']:>6}"
            )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps({"benchmark": "gate_cpu", "seconds": SECONDS, "cpus": os.cpu_count(), "results": results}, indent=2) + "\n"
    )
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
