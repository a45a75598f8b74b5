"""Write-ahead files: what a process queued for the database outlives it when it is killed with SIGKILL.

(docs/events.md, "Surviving SIGKILL", says why and what it costs.) Two kinds of queue use it: the
event journal's ("journal") and the gate's spool of unattributed attempts ("spool"). Each appends
every queued entry's items as one JSON line to a segment file of its kind it holds an exclusive
`flock` on, notes a batch before writing it (`b`) and, once it committed, the last entry everything
up to which is settled (`d`): entries leave each queue oldest first. The kernel drops a dead
process's locks: any process of the same database that can lock a segment file finds an orphan and
writes its unsettled entries.
"""

import fcntl
import hashlib
import json
import logging
import os
import re
import time
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)
ROTATE_LINES = 5000  # a new segment after this many lines; older ones go once all their entries are written
_NAME = re.compile(r"^(?P<kind>[a-z]+)-(?P<run>\d+\.\d+)-(?P<seg>\d+)\.jsonl$")


def directory(app):
    """The write-ahead directory of app's database, or None when EVENT_JOURNAL_DIR is "off"."""
    setting = app.config.get("EVENT_JOURNAL_DIR", "")
    if setting == "off":
        return None
    base = Path(setting or os.path.join(app.instance_path, "journal"))
    # One directory per database: a journal only ever recovers events that belong to its own database.
    digest = hashlib.sha256(str(app.config["SQLALCHEMY_DATABASE_URI"]).encode()).hexdigest()[:16]
    return base / digest


def open_log(app, kind):
    """A new write-ahead log of this kind for this process, or None (off, or the directory unusable: logged)."""
    path = directory(app)
    if path is None:
        return None
    try:
        return AheadLog(path, kind)
    except OSError as exc:
        app.config["EVENT_JOURNAL_DIR"] = "off"  # not tried again on every entry
        log.error("write-ahead %s: no file (%s); a killed worker loses its queue", kind, type(exc).__name__)
        return None


class AheadLog:
    """This process's segments of one kind; every method is called under its queue's lock."""

    def __init__(self, path, kind):
        self.dir = Path(path)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.kind = kind
        self.run = f"{os.getpid()}.{time.time_ns()}"
        self.seq = 0
        self.segments = []  # [path, fd, last seq written to it]
        self.lines = 0
        self._open()

    def _open(self):
        while True:
            path = self.dir / f"{self.kind}-{self.run}-{len(self.segments):06d}.jsonl"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:  # a recovering process took it for an orphan in the instant before our lock
                os.close(fd)
                self.run += "0"
        self.segments.append([path, fd, self.seq])
        self.lines = 0

    def _write(self, record):
        os.write(self.segments[-1][1], (json.dumps(record, default=str, separators=(",", ":")) + "\n").encode())
        self.lines += 1

    def append(self, items):
        """Write one entry's items (JSON objects); returns its sequence number."""
        if self.lines >= ROTATE_LINES:
            self._open()
        self.seq += 1
        self._write({"n": self.seq, "e": items})
        self.segments[-1][2] = self.seq
        return self.seq

    def begin(self, first, last):
        """A batch of entries first..last is about to be written."""
        self._write({"b": [first, last]})

    def done(self, last):
        """Entries up to last are settled (written, or dropped by a full queue): note it, drop segments holding nothing else."""
        self._write({"d": last})
        for segment in self.segments[:-1]:
            if segment[2] <= last:
                self._drop(segment)
        self.segments = [s for s in self.segments if s[1] is not None]

    def close(self, written_all):
        """At exit: remove the files when everything was written, else leave them for a recovering process."""
        for segment in self.segments:
            if written_all:
                self._drop(segment)
            elif segment[1] is not None:
                os.close(segment[1])
                segment[1] = None

    @staticmethod
    def _drop(segment):
        os.unlink(segment[0])
        os.close(segment[1])
        segment[1] = None


def _locked_orphans(path, kind):
    """{run: [(path, fd)]}: runs of kind no living process holds, every segment locked now by us (so only we recover them)."""
    names = {}
    for name in sorted(os.listdir(path)):
        match = _NAME.match(name)
        if match is not None and match["kind"] == kind:
            names.setdefault(match["run"], []).append(path / name)
    runs = {}
    for run, paths in names.items():
        files = []
        for file_path in paths:
            locked = _lock(file_path)
            if locked is None:
                break
            files.append((file_path, locked))
        else:
            runs[run] = files
            continue
        # All of a run or none: a recovery that saw only some segments would miss the notes in the others.
        for _, fd in files:
            os.close(fd)
    return runs


def _lock(file_path):
    """A descriptor of the file locked by us, or None: its process lives, or another recovery has it or removed it."""
    try:
        fd = os.open(file_path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(fd).st_nlink:
            return fd
    except BlockingIOError:
        pass
    os.close(fd)  # locked only once a recovery that got there first had written and removed it
    return None


def _read(files):
    """(entries {seq: items}, done up to, batches begun) from one dead run's segments."""
    entries, done, begun = {}, 0, []
    for path, _ in files:
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short by the kill: its entry was never answered
            if "n" in record:
                entries[record["n"]] = record["e"]
            elif "d" in record:
                done = max(done, record["d"])
            elif "b" in record:
                begun.append(tuple(record["b"]))
    for fields in (f for items in entries.values() for f in items):
        if isinstance(fields.get("at"), str):
            fields["at"] = datetime.fromisoformat(fields["at"])
    return entries, done, begun


def on_recover(app, recover_kind):
    """Have the event journal's writer thread call recover_kind(app) at its start and every 10 s."""
    app.extensions.setdefault("write_ahead_recovery", []).append(recover_kind)


def recover_all(app):
    """Every registered kind's recovery; one that fails (the database is down again) is retried next time."""
    for recover_kind in app.extensions.get("write_ahead_recovery", ()):
        try:
            recover_kind(app)
        except Exception as exc:
            log.error("write-ahead: recovering what a killed worker left failed (%s); retried later", type(exc).__name__)


def recover(app, kind, write, committed):
    """Write the unsettled entries of every dead process's log of this kind and app's database; returns write's total.

    write(items) writes one batch in its own transaction and says how many it recorded; committed(items)
    says whether a batch's items are in the table already (it committed just before its process died).
    """
    path = directory(app)
    if path is None or not path.exists():
        return 0
    total = 0
    for files in _locked_orphans(path, kind).values():
        try:
            entries, done, begun = _read(files)
            for first, last in sorted(set(begun)):  # a batch whose write failed is noted again when retried
                if last > done and committed([item for n in range(first, last + 1) for item in entries.get(n, ())]):
                    done = last
            pending = [n for n in sorted(entries) if n > done]
            for i in range(0, len(pending), 500):
                seqs = pending[i : i + 500]
                total += write([item for n in seqs for item in entries[n]])
                with open(files[-1][0], "a") as out:  # so a recovery cut short does not write these twice
                    out.write(json.dumps({"d": seqs[-1]}) + "\n")
            for file_path, _ in files:
                file_path.unlink()
        finally:
            for _, fd in files:
                os.close(fd)
    if total:
        log.warning("write-ahead %s: %d items of a killed worker written", kind, total)
    return total
