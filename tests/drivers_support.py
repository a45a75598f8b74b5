"""Helpers for the driver tests: a private Mosquitto, the esp-rfid device process, and an MQTT probe."""

from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

FAKES = Path(__file__).parent / "fakes"
MQTT_URL = os.environ.get("MQTT_URL", "mqtt://127.0.0.1:1883")
MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def reachable(url: str, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections at the URL's host and port."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 1883), timeout=timeout):
            return True
    except OSError:
        return False


def unique_topic(prefix: str = "test") -> str:
    """A topic no other test run uses."""
    return f"{prefix}/{uuid.uuid4().hex[:10]}"


def _wait_port(port: int, up: bool, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if reachable(f"mqtt://127.0.0.1:{port}", 0.2) == up:
            return
        time.sleep(0.02)
    raise RuntimeError(f"port {port} not {'up' if up else 'down'}")


class PrivateBroker:
    """A Mosquitto of our own on a free port, so a test can kill and restart it."""

    def __init__(self, tmp_path: Path):
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.config = tmp_path / "mosquitto.conf"
        self.config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\n")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port, True)

    def stop(self) -> None:
        """Kill it and wait until the port is closed."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None
            _wait_port(self.port, False)


class DeviceProcess:
    """tests/fakes/esp_rfid_device.py as a subprocess."""

    def __init__(self, url: str, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, str(FAKES / "esp_rfid_device.py"), "--url", url, *args],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.stop()
            raise RuntimeError("esp-rfid fake did not start")

    def stop(self) -> None:
        """Terminate the process."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


class Probe:
    """A plain MQTT client to poke the fake device and read its state."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.messages: queue.Queue = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:8]}")
        self.subacks: set[int] = set()
        self.topics: set[str] = set()
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, json.loads(m.payload)))
        self.client.on_subscribe = lambda c, u, mid, codes, props: self.subacks.add(mid)
        self.client.connect(parts.hostname, parts.port or 1883)
        self.client.loop_start()

    def listen(self, topic: str) -> None:
        """Subscribe and wait for the SUBACK."""
        if topic in self.topics:
            return
        _, mid = self.client.subscribe(topic, qos=1)
        deadline = time.monotonic() + 3
        while mid not in self.subacks:
            if time.monotonic() > deadline:
                raise AssertionError(f"no SUBACK for {topic}")
            time.sleep(0.005)
        self.topics.add(topic)

    def control(self, topic: str, **body) -> None:
        """Send a test control message to a device."""
        self.client.publish(f"{topic}/ctl", json.dumps(body), qos=1).wait_for_publish(3)

    def state(self, topic: str) -> dict:
        """The device's user table and counters, as it holds them now."""
        nonce = uuid.uuid4().hex
        self.listen(f"{topic}/state")
        self.control(topic, cmd="dump", nonce=nonce)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                got_topic, body = self.messages.get(timeout=0.1)
            except queue.Empty:
                continue
            if got_topic == f"{topic}/state" and body.get("nonce") == nonce:
                return body
        raise AssertionError(f"no state from {topic}")

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()
