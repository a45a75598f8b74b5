"""One paho-mqtt connection per broker, shared by every MQTT driver instance in the process.

A thousand door controllers behind one broker cost the bridge one TCP connection: each driver registers the
topic it listens on and messages are dispatched to it by topic. The client reconnects by itself and subscribes
again after every connect (clean sessions: a restarted broker has forgotten them anyway).
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from access_bridge.drivers.base import DriverError

Handler = Callable[[str, bytes], None]
_SUBSCRIBE_CHUNK = 200  # topics per SUBSCRIBE packet when re-subscribing after a reconnect
# CONNACK reason codes that mean the broker refused our login (MQTT 5 values; paho maps 3.1.1's 4 and 5 onto them).
LOGIN_REFUSED = {134, 135}  # bad user name or password, not authorized


def parse_url(url: str) -> tuple[str, int, bool]:
    """(host, port, tls) from mqtt://host:port or mqtts://host:port."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
        raise DriverError(f"bad MQTT url {url!r}")
    tls = parts.scheme in ("mqtts", "ssl")
    return parts.hostname, parts.port or (8883 if tls else 1883), tls


def _no_delay(client, userdata, sock) -> None:
    """Send small MQTT packets at once: Nagle plus delayed ACKs would hold back every ack at every hop."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass


class Broker:
    """A shared connection: topic handlers, SUBACK tracking and a connected flag."""

    def __init__(self, url: str, username: str | None = None, password: str | None = None):
        host, port, tls = parse_url(url)
        self.url = url
        self.users = 0
        self.connected = threading.Event()
        self.refused: str | None = None  # why the broker refused our login, until it accepts it
        self.answered = threading.Event()  # a CONNACK came, accepting or refusing us: no need to wait for one
        self._handlers: dict[str, Handler] = {}
        self._subscribed: dict[str, threading.Event] = {}
        self._mids: dict[int, list[str]] = {}
        self._early: dict[int, bool] = {}
        self._lock = threading.Lock()
        client_id = f"bridge-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        # The bench pushes thousands of QoS-1 messages at once; paho's default window of 20 would serialise them.
        self.client.max_inflight_messages_set(0)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=2)  # type: ignore[arg-type]  # paho takes float seconds
        if username:
            self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set()
        self.client.on_socket_open = _no_delay
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.connect_async(host, port, keepalive=15)
        self.client.loop_start()

    def subscribe(self, topic: str, handler: Handler) -> threading.Event:
        """Route messages on topic to handler; the returned event is set once the broker acknowledged it."""
        with self._lock:
            self._handlers[topic] = handler
            done = self._subscribed.setdefault(topic, threading.Event())
            done.clear()
        if self.connected.is_set():
            self._send_subscribe([topic])
        return done

    def unsubscribe(self, topic: str) -> None:
        """Stop routing topic."""
        with self._lock:
            self._handlers.pop(topic, None)
            self._subscribed.pop(topic, None)
        if self.connected.is_set():
            self.client.unsubscribe(topic)

    def publish(self, topic: str, payload: str) -> None:
        """Publish with QoS 1; paho queues it while the connection is down."""
        self.client.publish(topic, payload, qos=1)

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()

    def _send_subscribe(self, topics: list[str]) -> None:
        for start in range(0, len(topics), _SUBSCRIBE_CHUNK):
            chunk = topics[start : start + _SUBSCRIBE_CHUNK]
            rc, mid = self.client.subscribe([(t, 1) for t in chunk])
            if rc != mqtt.MQTT_ERR_SUCCESS or mid is None:
                continue  # not connected: _on_connect subscribes again
            with self._lock:
                # The SUBACK may beat us here: paho's network thread runs on its own.
                if self._early.pop(mid, None) is None:
                    self._mids[mid] = chunk
                    continue
            self._mark(chunk)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self.refused = str(reason_code) if reason_code.value in LOGIN_REFUSED else None
            self.answered.set()
            return
        self.refused = None
        with self._lock:
            topics = list(self._handlers)
            for event in self._subscribed.values():
                event.clear()
        self.connected.set()
        self.answered.set()
        self._send_subscribe(topics)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.connected.clear()
        with self._lock:
            for event in self._subscribed.values():
                event.clear()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        with self._lock:
            chunk = self._mids.pop(mid, None)
            if chunk is None:
                self._early[mid] = True
                return
        self._mark(chunk)

    def _mark(self, topics: list[str]) -> None:
        with self._lock:
            for topic in topics:
                event = self._subscribed.get(topic)
                if event is not None:
                    event.set()

    def _on_message(self, client, userdata, message):
        handler = self._handlers.get(message.topic)
        if handler is not None:
            handler(message.topic, message.payload)


_POOL: dict[tuple, Broker] = {}
_POOL_LOCK = threading.Lock()


def acquire(url: str, username: str | None = None, password: str | None = None) -> Broker:
    """The shared connection for this broker and login, created on first use."""
    key = (url, username or "", password or "")
    with _POOL_LOCK:
        broker = _POOL.get(key)
        if broker is None:
            broker = _POOL[key] = Broker(url, username, password)
        broker.users += 1
        return broker


def release(broker: Broker) -> None:
    """Drop one user; the last one closes the connection."""
    with _POOL_LOCK:
        broker.users -= 1
        if broker.users > 0:
            return
        for key, value in list(_POOL.items()):
            if value is broker:
                del _POOL[key]
    broker.close()
