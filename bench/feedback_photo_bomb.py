"""Complaint photos that decode to huge images: three all-zero 6300 x 6300 PNGs (about 460 kB on the wire).

Files one complaint with them through the WSGI app (SQLite, in a fresh child process) and reports how long the
request took and how far it raised the process's peak memory (ru_maxrss). Before the header check in
portal.feedback.uploads this took 20 s and 400 MB; BENCH_PHOTO_UNBUDGETED=1 also measures the request with the
budget lifted, for comparison. Prints the figures and writes bench/results/feedback_photo_bomb.json.
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
RESULTS = ROOT / "bench" / "results" / "feedback_photo_bomb.json"


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def child(unbudgeted):
    """Set up a resident, then file the three bombs once; prints one JSON line."""
    from photo_bombs import zero_png

    from portal.accounts import bearer
    from portal.accounts.operations import create_user
    from portal.app import create_app
    from portal.config import TestConfig
    from portal.extensions import db
    from portal.feedback import uploads
    from portal.sites import operations as places

    if unbudgeted:
        uploads.MAX_DECODED_PIXELS = 10**12
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tempfile.mkdtemp(prefix='photo-bomb-')}/b.db")
    with app.app_context():
        db.create_all()
        site = places.create_site("bench", "基准小区")
        unit = places.add_unit(places.add_building(site, "A", "A栋", 1, 18), "1201", 12)
        user = create_user("r1", "correct horse battery staple", "resident", "张伟")
        places.move_in(user, unit, "owner")
        db.session.commit()
        with app.test_request_context():
            plain, _ = bearer.issue_user_token(user)
            db.session.commit()
    client = app.test_client()
    form = {"kind": "complaint", "category": "parking", "location": "B1", "description": "车位被占"}
    bombs = [zero_png(6300, 6300) for _ in range(3)]
    import io

    def post(raws):
        data = dict(form, photos=[(io.BytesIO(raw), f"{i}.png") for i, raw in enumerate(raws)])
        return client.post(
            "/api/v1/complaints", data=data, content_type="multipart/form-data", headers={"Authorization": f"Bearer {plain}"}
        )

    warm = post([zero_png(64, 64)])  # imports, PIL plugins, first query: not the bombs' cost
    before = _peak_mb()
    start = time.perf_counter()
    resp = post(bombs)
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "unbudgeted": unbudgeted,
                "status": resp.status_code,
                "warm_status": warm.status_code,
                "wire_kb": round(sum(map(len, bombs)) / 1000),
                "seconds": round(seconds, 3),
                "peak_rise_mb": round(_peak_mb() - before, 1),
                "peak_mb": round(_peak_mb(), 1),
                "code": ((resp.get_json() or {}).get("error") or {}).get("fields", {}).get("photos", {}).get("code"),
            }
        )
    )


def main():
    """Run the measurement in fresh processes (peak memory is per process) and report."""
    runs = [False] + ([True] if os.environ.get("BENCH_PHOTO_UNBUDGETED") == "1" else [])
    results = []
    for unbudgeted in runs:
        out = subprocess.run(
            [sys.executable, __file__, "--child", "1" if unbudgeted else "0"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{'budget':<10} {'status':>6} {'on the wire':>12} {'time':>8} {'peak rise':>10}")
    for r in results:
        print(
            f"{'lifted' if r['unbudgeted'] else 'on':<10} {r['status']:>6} {r['wire_kb']:>9} kB {r['seconds']:>6.2f} s "
            f"{r['peak_rise_mb']:>7.1f} MB"
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2] == "1")
    else:
        main()
