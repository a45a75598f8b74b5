"""1:N face search over 100,000 enrolled encodings of one site: time per query (target <= 20 ms).

The index is portal.faces.vectors.FaceIndex, the same object the portal caches per site: a float32
matrix with precomputed squared norms, one matrix-vector product per query. The enrolled set is
100,000 random encodings scaled like real ones plus the encodings of two real people from the test
photos; each query is a real photo of one of them (must find the right person first) or a random
probe. face_recognition.face_distance (float64, subtracting every row) is timed for comparison.
Writes bench/results/face_search.json.
"""

import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal.faces.vectors import FaceIndex, encode_vector  # noqa: E402

ENROLLED = 100_000
QUERIES = 300
BASELINE_QUERIES = 20
TARGET_MS = 20.0
PHOTOS = ROOT / "tests" / "data" / "faces"


def real_encodings():
    """Encodings of the stored test photos, through the portal's own photo pipeline."""
    from portal.faces import imaging

    out = {}
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg"):
        _, out[name] = imaging.analyse(imaging.load_photo((PHOTOS / name).read_bytes()))
    return out


def random_encodings(n, norm, rng):
    """n random encodings with the length real encodings have (so distances are of realistic scale)."""
    m = rng.normal(size=(n, 128)).astype(np.float32)
    m *= (norm / np.linalg.norm(m, axis=1))[:, None]
    return m


def percentiles(samples_ms):
    """p50/p95/p99/mean/max of a list of milliseconds."""
    a = np.asarray(samples_ms)
    return {
        "p50": float(np.percentile(a, 50)),
        "p95": float(np.percentile(a, 95)),
        "p99": float(np.percentile(a, 99)),
        "mean": float(a.mean()),
        "max": float(a.max()),
    }


def portal_path_times(index, queries):
    """queries.search() as the API calls it: the site's stamp read from the database, then the cached index."""
    import os
    import tempfile

    os.environ.setdefault("PORTAL_TEST_FAST_HASH", "1")
    from portal.app import create_app
    from portal.config import TestConfig
    from portal.extensions import db
    from portal.faces import queries as face_queries
    from portal.faces.erasure import bump_stamp
    from portal.sites.operations import create_site

    tmp = Path(tempfile.mkdtemp(prefix="face-bench-"))
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp / 'portal.db'}", SERVER_NAME="bench.test")
    with app.app_context():
        db.create_all()
        site = create_site("bench", "Bench")
        bump_stamp(site.id)
        db.session.commit()
        # Seed the per-process cache as a first search would (100,000 passes are not needed for timing).
        face_queries._cache[(str(db.engine.url), site.id)] = (face_queries.stamp(site.id), index)
        times = []
        for q in queries:
            t0 = time.perf_counter()
            face_queries.search(site.id, q)
            times.append((time.perf_counter() - t0) * 1000)
    return percentiles(times)


def main():
    """Build the index, time the queries, print a table and write the JSON."""
    import face_recognition

    rng = np.random.default_rng(2025)
    real = real_encodings()
    norm = float(np.mean([np.linalg.norm(v) for v in real.values()]))
    matrix = random_encodings(ENROLLED, norm, rng)
    keys = np.arange(1, ENROLLED + 1)
    obama_at, biden_at = 31_337, 77_777
    matrix[obama_at], matrix[biden_at] = real["obama.jpg"], real["biden.jpg"]

    rows = [(int(k), encode_vector(v)) for k, v in zip(keys, matrix, strict=True)]
    start = time.perf_counter()
    index = FaceIndex.from_rows(rows)  # what a cache miss costs: rebuilt from the stored bytes
    build_ms = (time.perf_counter() - start) * 1000

    probes = random_encodings(QUERIES, norm, rng)
    queries = [real["obama2.jpg"] if i % 3 == 0 else probes[i] for i in range(QUERIES)]
    for q in queries[:10]:
        index.search(q)  # warm-up
    times, correct = [], 0
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        hits = index.search(q)
        times.append((time.perf_counter() - t0) * 1000)
        if i % 3 == 0:
            correct += bool(hits) and hits[0][0] == obama_at + 1 and all(k != biden_at + 1 for k, _ in hits)
    stats = percentiles(times)

    portal = portal_path_times(index, queries)
    base64 = matrix.astype(np.float64)
    base_times = []
    for q in queries[:BASELINE_QUERIES]:
        t0 = time.perf_counter()
        d = face_recognition.face_distance(base64, np.asarray(q, dtype=np.float64))
        int(np.argmin(d))
        base_times.append((time.perf_counter() - t0) * 1000)
    base = percentiles(base_times)

    real_queries = len(range(0, QUERIES, 3))
    result = {
        "enrolled": len(index),
        "queries": QUERIES,
        "real_photo_queries": real_queries,
        "real_photo_found_first": correct,
        "index_build_ms": round(build_ms, 1),
        "float32_matrix_ms": {k: round(v, 3) for k, v in stats.items()},
        "portal_search_ms": {k: round(v, 3) for k, v in portal.items()},
        "face_distance_float64_ms": {k: round(v, 3) for k, v in base.items()},
        "target_ms": TARGET_MS,
        "meets_target": max(stats["p99"], portal["p99"]) <= TARGET_MS and correct == real_queries,
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "cpu": platform.processor() or platform.machine(),
        },
    }
    print(f"1:N face search, {len(index):,} encodings of one site, {QUERIES} queries")
    print(f"{'method':<38}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'mean ms':>9}")
    rows = (
        ("FaceIndex.search (float32 + norms)", stats),
        ("portal search (stamp check + index)", portal),
        ("face_distance float64 (baseline)", base),
    )
    for label, s in rows:
        print(f"{label:<38}{s['p50']:>9.2f}{s['p95']:>9.2f}{s['p99']:>9.2f}{s['mean']:>9.2f}")
    print(f"index build from stored bytes: {build_ms:.1f} ms; real photo found first: {correct}/{real_queries}")
    print(f"target p99 <= {TARGET_MS} ms: {'met' if result['meets_target'] else 'NOT met'}")
    out = ROOT / "bench" / "results" / "face_search.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
