"""Memory a gate worker's decision cache holds when full: 10,000 passes scanned once each (SQLite, in process).

Seeds the bench site, scans the QR text of each of its 10,000 live passes once through the WSGI app
(filling the cache up to GATE_CACHE_MAX and the verified texts up to their cap) and reports what
tracemalloc saw allocated meanwhile. Prints the figures and writes bench/results/gate_cache_memory.json.
"""

import io
import json
import os
import sys
import tempfile
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("PORTAL_TEST_FAST_HASH", "1")

import gate_verify as gv  # noqa: E402

from bench import _gate_seed as seed  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "gate_cache_memory.json"


def main():
    """Fill one worker's cache and measure it."""
    url = f"sqlite:///{tempfile.mkdtemp(prefix='gate-memory-')}/bench.db"
    world = seed.build(url, gv.KEYS)
    from portal.events import journal
    from portal.gate import cache as decision_cache
    from portal.gate import decisions

    app = seed.app_for(url, gv.KEYS)  # the seeding app: same database and keys
    bodies = [json.dumps(b).encode() for b in seed.qr_bodies(url, world, gv.KEYS, passes=world.passes)]

    def scan(body):
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/api/v1/gate/verify",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/json",
            "HTTP_AUTHORIZATION": f"Bearer {world.token}",
        }
        out = app(environ, lambda *args: None)
        b"".join(out)
        out.close()

    scan(bodies[0])
    cache = decision_cache.for_app(app)
    cache.clear()
    decisions._VERIFIED.clear()
    journal.journal(app).flush()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for body in bodies:
        scan(body)
    journal.journal(app).flush()  # the queued events are not the cache's
    after = tracemalloc.take_snapshot()
    held = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    figures = {
        "rows": len(cache.passes),
        "verified_texts": len(decisions._VERIFIED),
        "mb": round(held / 1e6, 1),
        "bytes_per_row": round(held / max(len(cache.passes), 1)),
    }
    print(
        f"cache full: {figures['rows']} rows and {figures['verified_texts']} verified texts hold "
        f"{figures['mb']} MB ({figures['bytes_per_row']} bytes a row)"
    )
    RESULTS.write_text(json.dumps({"benchmark": "gate_cache_memory", "results": figures}, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
