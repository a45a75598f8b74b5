"""Maintainers' step: extract msgids and fill the Chinese catalogue from the per-feature part files.

Run with `make extract`. Part files (portal/translations/parts/*.po) hold msgid/msgstr pairs kept
next to each feature's work; messages.po is what Flask-Babel compiles and serves.
"""

import subprocess
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
KEYWORDS = ["_l", "lazy_gettext", "N_", "FieldError:2", "ApiError:3", "Refused:2", "invalid_field:3", "bilingual", "error_body:2"]


def main():
    """Extract, merge, report what is still untranslated."""
    pot = HERE / "messages.pot"
    args = [
        sys.executable,
        "-m",
        "babel.messages.frontend",
        "extract",
        "-F",
        str(ROOT / "babel.cfg"),
        "-o",
        str(pot),
        "--no-location",
        ".",
    ]
    for k in KEYWORDS:
        args += ["-k", k]
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True)  # noqa: S603 - this interpreter's babel, fixed arguments
    template = read_po(pot.open("rb"))
    known = {}
    po_path = HERE / "zh" / "LC_MESSAGES" / "messages.po"
    sources = sorted((HERE / "parts").glob("*.po")) + ([po_path] if po_path.exists() else [])
    for src in sources:
        for msg in read_po(src.open("rb"), locale="zh"):
            if msg.id and msg.string and msg.id not in known:
                known[msg.id] = msg.string
    out = Catalog(locale="zh", project="portal", fuzzy=False)
    missing = []
    for msg in template:
        if not msg.id or (msg.id not in known and msg.id.replace("_", "").isalpha() and msg.id.islower()):
            continue  # an error code caught by a keyword, not a sentence
        out.add(msg.id, known.get(msg.id, ""), flags=msg.flags)
        if msg.id not in known:
            missing.append(msg.id)
    for extra, text in known.items():  # words shown through _(value), not found by extraction
        if extra not in out:
            out.add(extra, text)
    po_path.parent.mkdir(parents=True, exist_ok=True)
    with po_path.open("wb") as fh:
        write_po(fh, out, width=0, omit_header=False)
    print(f"{len(out)} messages, {len(missing)} untranslated")
    for m in missing:
        print("  untranslated:", m)


if __name__ == "__main__":
    main()
