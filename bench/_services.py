"""Private PostgreSQL, Redis and Mosquitto servers for bench/load_faults.py, each on a free port in a temp dir.

The load-and-fault run restarts its servers, so it never touches the shared ones on the usual ports
(other people's tests use them). PostgreSQL runs as the `postgres` user when we are root (initdb
refuses root); every server stops when the run ends, on failure and Ctrl-C too.
"""

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port():
    """A port the kernel says is free on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin():
    """The directory of the newest installed PostgreSQL server binaries, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def available():
    """Names of the server programs missing on this machine (empty when the run can go ahead)."""
    missing = [] if pg_bin() else ["postgresql"]
    return missing + [name for name in ("mosquitto", "redis-server") if shutil.which(name) is None]


def wait_port(port, timeout=30.0, proc=None):
    """Wait until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"server on port {port} exited with {proc.returncode}") from None
            time.sleep(0.05)
    raise RuntimeError(f"nothing answered on port {port} within {timeout} s")


class Postgres:
    """A throwaway cluster: initdb, start, restart (fast shutdown: connections are cut) and stop."""

    def __init__(self, root):
        self.bin = pg_bin()
        self.dir = Path(root) / "pg"
        self.port = free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _ctl(self, *args):
        cmd = [*self.as_postgres, str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), *args]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)

    def start(self):
        """initdb (trust, local only) and start; returns the SQLAlchemy URL of database `postgres`."""
        self.dir.mkdir(parents=True)
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        initdb = [str(self.bin / "initdb"), "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres", "--no-sync"]
        subprocess.run([*self.as_postgres, *initdb], check=True, stdout=subprocess.DEVNULL, timeout=120)
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._ctl("-o", opts, "-l", str(self.dir / "log"), "-w", "start")
        self._note_pid()
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _note_pid(self):
        self.pid = int((self.dir / "data" / "postmaster.pid").read_text().split()[0])

    def restart(self):
        """Fast shutdown (every session cut, as a restart in production does) and start again."""
        self._ctl("-m", "fast", "-w", "restart")
        self._note_pid()

    def stop(self):
        """Stop now (immediate: nothing here is kept); the postmaster is signalled itself if pg_ctl cannot."""
        try:
            self._ctl("-m", "immediate", "-w", "stop")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pid = getattr(self, "pid", None)
            with contextlib.suppress(OSError):  # only our postmaster: the pid may have been reused
                if pid and str(self.dir) in Path(f"/proc/{pid}/cmdline").read_text():
                    os.kill(pid, signal.SIGQUIT)


class Daemon:
    """A server process we start and stop ourselves (Redis, Mosquitto)."""

    def __init__(self, cmd, port, log_path):
        self.cmd, self.port, self.log_path, self.proc = cmd, port, log_path, None

    def start(self):
        self.proc = subprocess.Popen(self.cmd, stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115
        wait_port(self.port, proc=self.proc)

    def restart(self):
        """SIGTERM, wait, start again on the same port."""
        self.stop()
        self.start()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def redis(root):
    """Redis on a free port, no persistence."""
    port = free_port()
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    return Daemon(cmd, port, Path(root) / "redis.log")


def mosquitto(root):
    """Mosquitto on a free port, anonymous, TCP_NODELAY (as deploy/mosquitto recommends), no persistence."""
    port = free_port()
    conf = Path(root) / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\npersistence false\nmax_queued_messages 100000\n"
    )
    return Daemon(["mosquitto", "-c", str(conf)], port, Path(root) / "mosquitto.log")


class Servers:
    """The three servers of one run in one temp dir; a context manager that always tears them down."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="load-faults-"))
        os.chmod(self.root, 0o711)  # noqa: S103 - the postgres user must reach its directory inside
        self.pg = Postgres(self.root)
        self.redis = redis(self.root)
        self.mqtt = mosquitto(self.root)
        self.database_url = None

    def __enter__(self):
        try:
            self.database_url = self.pg.start()
            self.redis.start()
            self.mqtt.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    @property
    def redis_url(self):
        return f"redis://127.0.0.1:{self.redis.port}/0"

    @property
    def mqtt_url(self):
        return f"mqtt://127.0.0.1:{self.mqtt.port}"

    def __exit__(self, *exc):
        for server in (self.mqtt, self.redis, self.pg):
            try:
                server.stop()
            except Exception as err:  # tear down the others whatever happened to one
                print(f"load_faults: stopping {type(server).__name__} failed: {err}")
        if not os.environ.get("LOAD_FAULTS_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)
