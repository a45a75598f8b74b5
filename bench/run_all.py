"""`make bench`: run every benchmark in bench/ in turn; each prints its own table and writes bench/results/."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main():
    """Run each bench script; report failures at the end."""
    failed = []
    only = set(sys.argv[1:])
    for script in sorted(HERE.glob("*.py")):
        if script.name in ("run_all.py",) or script.name.startswith("_"):
            continue
        if only and script.stem not in only:
            continue
        print(f"\n=== {script.stem} ===", flush=True)
        rc = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        if rc != 0:
            failed.append(script.stem)
    if failed:
        print("benchmarks that failed:", ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
