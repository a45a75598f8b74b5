"""The load of bench/load_faults.py: gate decisions, pass creations and revocations at fixed rates.

Open loop: a ticker thread hands out send times at the target rate and a pool of threads sends each
request at (or as soon as possible after) its time, so a stalled server does not slow the offered load
down, as a closed loop would. Requests spread over the portal processes like a load balancer in
front of them: a refused connection goes to the next process (nginx's next upstream); a request that
was sent and got no answer is an error, never retried (a verify or a revocation is not idempotent).
"""

import http.client
import itertools
import json
import queue
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

LIMIT = 2  # entries of a limited pass: its grants are counted against this
TIMEOUT = 5.0  # a reader gives up after 3 s (GATE_DECISION_DEADLINE); this only ends a stuck socket


@dataclass
class Sample:
    """One request: when it was due and sent (epoch s), how long it took, and the answer."""

    kind: str  # verify | create | revoke
    due: float
    sent: float
    latency: float
    status: int  # 0: no answer (connection refused everywhere, reset, timeout)
    body: dict
    meta: dict


class Portals:
    """Round robin over the portal ports with one keep-alive connection per thread and port."""

    def __init__(self, ports):
        self.ports = list(ports)
        self.counter = itertools.count()
        self.local = threading.local()

    def _conn(self, port):
        conns = self.local.__dict__.setdefault("conns", {})
        if port not in conns:
            conns[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        return conns[port]

    def _drop(self, port):
        conn = self.local.__dict__.get("conns", {}).pop(port, None)
        if conn is not None:
            conn.close()

    def call(self, method, path, token, body):
        """(status, JSON body, port); status 0 when no process answered."""
        first = next(self.counter) % len(self.ports)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for port in self.ports[first:] + self.ports[:first]:
            for attempt in (0, 1):
                conn = self._conn(port)
                try:
                    conn.request(method, path, body=data, headers=headers)
                except OSError:
                    # Not sent (refused, or a kept-alive connection the server had closed): safe to try again.
                    self._drop(port)
                    if attempt == 0:
                        continue
                    break
                try:
                    resp = conn.getresponse()
                    raw = resp.read()
                except (OSError, http.client.HTTPException):
                    self._drop(port)
                    return 0, {"error": "no_answer"}, port
                if resp.getheader("Connection", "").lower() == "close":
                    self._drop(port)
                try:
                    return resp.status, json.loads(raw or b"{}"), port
                except ValueError:
                    return resp.status, {"error": "not_json"}, port
        return 0, {"error": "refused"}, None


class Stream:
    """One open-loop stream of requests: rate per second for seconds, call(due) run on a thread pool."""

    def __init__(self, name, rate, seconds, threads, call, samples):
        self.name, self.rate, self.seconds, self.call, self.samples = name, rate, seconds, call, samples
        self.due = queue.Queue()
        self.threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(threads)]
        self.ticker = threading.Thread(target=self._tick, name=f"{name}-ticker", daemon=True)
        self.late = 0  # sends that left more than 50 ms after their time (the client could not keep up)

    def start(self, at):
        self.start_at = at
        for t in self.threads:
            t.start()
        self.ticker.start()

    def _tick(self):
        n, total = 0, int(self.rate * self.seconds)
        while n < total:
            due = self.start_at + n / self.rate
            wait = due - time.time()
            if wait > 0:
                time.sleep(wait)
            self.due.put(due)
            n += 1
        for _ in self.threads:
            self.due.put(None)

    def _work(self):
        while (due := self.due.get()) is not None:
            sent = time.time()
            if sent - due > 0.05:
                self.late += 1
            try:
                status, body, meta = self.call()
            except Exception as exc:  # a bug in the generator must not look like a server error
                status, body, meta = -1, {"error": f"client:{type(exc).__name__}"}, {}
            self.samples.append(Sample(self.name, due, sent, time.time() - sent, status, body, meta))

    def join(self):
        self.ticker.join()
        for t in self.threads:
            t.join()


def _iso(dt):
    return dt.isoformat(timespec="seconds")


class Load:
    """The three streams over one World and what they did (samples, passes created, revocations)."""

    def __init__(self, world, signer, ports, seconds, rates):
        self.world, self.signer, self.portals = world, signer, Portals(ports)
        self.samples = []
        self.lock = threading.Lock()
        self.live = dict(world.live)  # pass id -> building: scanned as valid, revocable
        self.revoked = {}  # pass id -> time the revocation was answered
        self.recent = []  # newest revoked ids first: scanned right after their revocation, the racy case
        self.created = {}  # pass id -> (building, time answered)
        self.limited = {}  # pass id -> entries allowed: every other created pass has a limit, which a grant takes
        self.creations = itertools.count()
        self.reader = itertools.count()
        self.streams = [
            Stream("verify", rates["verify"], seconds, 32, self.verify, self.samples),
            Stream("create", rates["create"], seconds, 8, self.create, self.samples),
            Stream("revoke", rates["revoke"], seconds, 4, self.revoke, self.samples),
        ]

    def _pick(self):
        """(category, pass id): mostly live passes, some revoked, expired or unknown ones."""
        roll = random.random()
        with self.lock:
            if roll < 0.10 and self.recent:
                return "revoked", random.choice(self.recent[:5])
            if roll < 0.14 and self.revoked:
                return "revoked", random.choice(list(self.revoked))
            if roll < 0.18:
                return "expired", random.choice(self.world.expired)
            if roll < 0.22:
                return "unknown", 10_000_000 + random.randrange(1_000_000)
            return "live", random.choice(list(self.live))

    def verify(self):
        category, pass_id = self._pick()
        reader = next(self.reader) % len(self.world.gate_tokens)
        body = {"qr": self.signer.qr(pass_id)}
        status, answer, port = self.portals.call("POST", "/api/v1/gate/verify", self.world.gate_tokens[reader], body)
        return status, answer, {"pass_id": pass_id, "category": category, "reader": reader, "port": port}

    def create(self):
        token, building = random.choice(self.world.residents)
        now = datetime.now(UTC)
        limit = LIMIT if next(self.creations) % 2 else "unlimited"
        body = {
            "max_entries": limit,
            "visitor": {"name": "Load visitor"},
            "kind": "guest",
            "valid_from": _iso(now - timedelta(minutes=1)),
            "valid_until": _iso(now + timedelta(hours=4)),
            "notify": "none",
        }
        status, answer, port = self.portals.call("POST", "/api/v1/passes", token, body)
        if status == 201:
            with self.lock:
                self.live[answer["id"]] = building
                self.created[answer["id"]] = (building, time.time())
                if limit != "unlimited":
                    self.limited[answer["id"]] = limit
        return status, {k: answer.get(k) for k in ("id", "status", "error", "code")}, {"port": port}

    def revoke(self):
        """Revoke a live pass as its resident; on no answer or an error, try again until it is answered."""
        with self.lock:
            pass_id, building = random.choice(list(self.live.items()))
            del self.live[pass_id]  # no scan picked from now on expects a grant
        token = self.world.residents[building][0]
        tries = 0
        while True:
            tries += 1
            status, answer, _port = self.portals.call("POST", f"/api/v1/passes/{pass_id}/revoke", token, {"reason": "bench"})
            if status == 200 or tries >= 50:
                break
            time.sleep(0.2)
        answered = time.time()
        if status == 200:
            with self.lock:
                self.revoked[pass_id] = answered
                self.recent.insert(0, pass_id)
                del self.recent[20:]
        return status, {"status": answer.get("status")}, {"pass_id": pass_id, "tries": tries, "answered": answered}

    def run(self, at):
        """Start every stream at the given time and wait for the last request."""
        for s in self.streams:
            s.start(at)
        for s in self.streams:
            s.join()
