"""The event journal's write-ahead file: queued access events outlive a worker killed with SIGKILL.

(docs/events.md, "Surviving SIGKILL", says why and what it costs.) Each journal appends every
queued entry's events as one JSON line to a segment file it holds an exclusive `flock` on, notes a
batch before writing it (`b`) and once it committed (`d`). Batches leave the queue oldest first, so
everything up to the last `d` is in the table. The kernel drops a dead process's locks: any journal
of the same database that can lock a segment file finds an orphan and writes its unconfirmed events.
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
_NAME = re.compile(r"^journal-(?P<run>\d+\.\d+)-(?P<seg>\d+)\.jsonl$")


def directory(app):
    """The write-ahead directory of app's database, or None when EVENT_JOURNAL_DIR is "off"."""
    setting = app.config.get("EVENT_JOURNAL_DIR", "")
    if setting == "off":
        return None
    base = Path(setting or os.path.join(app.instance_path, "journal"))
    # One directory per database: a journal only ever recovers events that belong to its own database.
    digest = hashlib.sha256(str(app.config["SQLALCHEMY_DATABASE_URI"]).encode()).hexdigest()[:16]
    return base / digest


class AheadLog:
    """This process's segments; every method is called under the journal's lock."""

    def __init__(self, path):
        self.dir = Path(path)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.run = f"{os.getpid()}.{time.time_ns()}"
        self.seq = 0
        self.segments = []  # [path, fd, last seq written to it]
        self.lines = 0
        self._open()

    def _open(self):
        while True:
            path = self.dir / f"journal-{self.run}-{len(self.segments):06d}.jsonl"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:  # a recovering journal took it for an orphan in the instant before our lock
                os.close(fd)
                self.run += "0"
        self.segments.append([path, fd, self.seq])
        self.lines = 0

    def _write(self, record):
        os.write(self.segments[-1][1], (json.dumps(record, default=str, separators=(",", ":")) + "\n").encode())
        self.lines += 1

    def append(self, events):
        """Write one entry's event fields; returns its sequence number."""
        if self.lines >= ROTATE_LINES:
            self._open()
        self.seq += 1
        self._write({"n": self.seq, "e": [fields for fields, _, _ in events]})
        self.segments[-1][2] = self.seq
        return self.seq

    def begin(self, first, last):
        """A batch of entries first..last is about to be written."""
        self._write({"b": [first, last]})

    def done(self, last):
        """Entries up to last are in the table: note it, and drop the segments that hold nothing else."""
        self._write({"d": last})
        for segment in self.segments[:-1]:
            if segment[2] <= last:
                self._drop(segment)
        self.segments = [s for s in self.segments if s[1] is not None]

    def close(self, written_all):
        """At exit: remove the files when everything was written, else leave them for a recovering journal."""
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


def _locked_orphans(path):
    """{run: [(path, fd)]}: segments no living process holds, locked now by us (so only we recover them)."""
    runs = {}
    for name in sorted(os.listdir(path)):
        match = _NAME.match(name)
        if match is None:
            continue
        fd = os.open(path / name, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        runs.setdefault(match["run"], []).append((path / name, fd))
    return runs


def _read(files):
    """(entries {seq: events}, done up to, batches begun) from one dead run's segments."""
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
                begun.append(record["b"])
    for fields in (f for events in entries.values() for f in events):
        if isinstance(fields.get("at"), str):
            fields["at"] = datetime.fromisoformat(fields["at"])
    return entries, done, begun


def recover(app, write, committed):
    """Write the unconfirmed events of every dead journal of app's database; returns how many.

    write(list of events) writes one batch in its own transaction; committed(fields) says whether an
    event is already in the table (a batch that committed just before its process died).
    """
    path = directory(app)
    if path is None or not path.exists():
        return 0
    total = 0
    for files in _locked_orphans(path).values():
        try:
            entries, done, begun = _read(files)
            for first, last in begun:
                if last > done:
                    probe = next((entries[n][0] for n in range(first, last + 1) if entries.get(n)), None)
                    if probe is not None and committed(probe):
                        done = max(done, last)
            pending = [n for n in sorted(entries) if n > done]
            for i in range(0, len(pending), 500):
                seqs = pending[i : i + 500]
                chunk = [(fields, None, None) for n in seqs for fields in entries[n]]
                write(chunk)
                total += len(chunk)
                with open(files[-1][0], "a") as out:  # so a recovery cut short does not write these twice
                    out.write(json.dumps({"d": seqs[-1]}) + "\n")
            for file_path, _ in files:
                file_path.unlink()
        finally:
            for _, fd in files:
                os.close(fd)
    if total:
        log.warning("event journal: %d access events of a killed worker recovered", total)
    return total
