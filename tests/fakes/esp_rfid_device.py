"""A process that behaves like one or many esp-rfid door controllers on an MQTT broker.

Run: python tests/fakes/esp_rfid_device.py --url mqtt://127.0.0.1:1883 --topic door/1
 or: python tests/fakes/esp_rfid_device.py --url ... --prefix bench/x --count 1000   (topics bench/x/0 .. /999)

Each device listens on <topic>/cmd (adduser, deletuid, deletusers, opendoor, getuserlist), acks every command on
<topic>/send ({"type": cmd, "ip", "hostname", "uid"}), and answers getuserlist with one {"type": "userfile", ...}
message per user followed by the {"type": "getuserlist", "count": n} ack.
It also takes {"cmd": "emergency", "mode": "release" | "restore"} (doors held open, or back to normal; acked with
the mode) and publishes esp-rfid-style status messages {"type": "io", "io", "state", "door", "time", ...}.
Test controls on <topic>/ctl:
  {"cmd": "io", "io": "door", "state": "forced", "door": 1} → that status message on <topic>/send
  {"cmd": "swipe", "uid": "..."}      → an access event on <topic>/send, judged against the table and clock
  {"cmd": "dump"}                     → {"users": {...}, "opened": n, "mode": "normal" | "released"} on <topic>/state
  {"cmd": "clock", "now": epoch}      → the device's clock (default: real time)
  {"cmd": "mute", "on": true}         → stop answering commands (device off the network, broker still up)
Prints "ready" on stdout once subscribed.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def _no_delay(client, userdata, sock) -> None:
    """Send small MQTT packets at once: Nagle plus delayed ACKs add ~40 ms per hop to every ack."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass


class Device:
    """One controller's state."""

    def __init__(self, topic: str, index: int):
        self.topic = topic
        self.ip = f"10.0.{index // 250}.{index % 250 + 1}"
        self.hostname = f"esp-rfid-{index}"
        self.users: dict[str, dict] = {}
        self.opened = 0
        self.now: float | None = None
        self.muted = False
        self.mode = "normal"

    def clock(self) -> int:
        return int(self.now if self.now is not None else time.time())

    def handle(self, msg: dict) -> list[dict]:
        """Apply a command; return the messages to publish on <topic>/send."""
        cmd = msg.get("cmd")
        ack = {"type": cmd, "ip": self.ip, "hostname": self.hostname}
        if cmd == "adduser":
            uid = str(msg["uid"])
            self.users[uid] = {
                "uid": uid,
                "user": msg.get("user", ""),
                "acctype": str(msg.get("acctype", "1")),
                "validsince": int(msg.get("validsince", 0)),
                "validuntil": int(msg.get("validuntil", 0)),
            }
            return [{**ack, "uid": uid}]
        if cmd == "deletuid":
            self.users.pop(str(msg["uid"]), None)
            return [{**ack, "uid": str(msg["uid"])}]
        if cmd == "deletusers":
            self.users.clear()
            return [ack]
        if cmd == "opendoor":
            self.opened += 1
            return [ack]
        if cmd == "emergency" and msg.get("mode") in ("release", "restore"):
            self.mode = "released" if msg["mode"] == "release" else "normal"
            return [{**ack, "mode": msg["mode"]}]
        if cmd == "getuserlist":
            items = [{"type": "userfile", **user} for user in self.users.values()]
            return [*items, {**ack, "count": len(items)}]
        return []

    def swipe(self, uid: str) -> dict:
        """The access event esp-rfid publishes for a card read."""
        now = self.clock()
        user = self.users.get(uid)
        event = {"type": "access", "time": now, "uid": uid, "doorName": self.hostname}
        if user is None:
            return {**event, "isKnown": "false", "access": "Denied", "username": "Unknown"}
        if user["acctype"] == "0":
            access = "Disabled"
        elif user["validuntil"] and now > user["validuntil"]:
            access = "Expired"
        elif user["validsince"] and now < user["validsince"]:
            access = "Denied"
        else:
            access = "Always"
        return {**event, "isKnown": "true", "access": access, "username": user["user"]}


class Fleet:
    """All simulated devices behind one MQTT connection."""

    def __init__(self, url: str, topics: list[str], ack_delay: float = 0.0):
        parts = urlsplit(url)
        self.devices = {topic: Device(topic, i) for i, topic in enumerate(topics)}
        self.ack_delay = ack_delay
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"esp-fleet-{id(self):x}", clean_session=True)
        self.client.max_inflight_messages_set(0)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(0.1, 1)
        self.client.on_socket_open = _no_delay
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *args: self.ready.set()
        self.client.on_message = self._on_message
        self.client.connect_async(parts.hostname, parts.port or 1883, keepalive=15)

    def _filters(self) -> list[str]:
        topics = list(self.devices)
        if len(topics) == 1:
            return [f"{topics[0]}/cmd", f"{topics[0]}/ctl"]
        prefix = topics[0].rsplit("/", 1)[0]
        return [f"{prefix}/+/cmd", f"{prefix}/+/ctl"]

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if not reason_code.is_failure:
            client.subscribe([(f, 1) for f in self._filters()])

    def _on_message(self, client, userdata, message):
        topic, _, channel = message.topic.rpartition("/")
        device = self.devices.get(topic)
        if device is None:
            return
        try:
            msg = json.loads(message.payload)
        except ValueError:
            return
        if channel == "ctl":
            self._control(device, msg)
            return
        if device.muted:
            return
        if self.ack_delay:
            time.sleep(self.ack_delay)
        for reply in device.handle(msg):
            client.publish(f"{topic}/send", json.dumps(reply), qos=1)

    def _control(self, device: Device, msg: dict) -> None:
        cmd = msg.get("cmd")
        if cmd == "swipe":
            self.client.publish(f"{device.topic}/send", json.dumps(device.swipe(str(msg["uid"]))), qos=1)
        elif cmd == "dump":
            state = {"users": device.users, "opened": device.opened, "mode": device.mode, "nonce": msg.get("nonce")}
            self.client.publish(f"{device.topic}/state", json.dumps(state), qos=1)
        elif cmd == "io":
            status = {"type": "io", "time": device.clock(), "hostname": device.hostname, "ip": device.ip}
            status.update({k: msg[k] for k in ("io", "state", "door") if k in msg})
            self.client.publish(f"{device.topic}/send", json.dumps(status), qos=1)
        elif cmd == "clock":
            device.now = msg.get("now")
        elif cmd == "mute":
            device.muted = bool(msg.get("on", True))

    def run(self) -> None:
        """Serve until killed."""
        self.client.loop_start()
        self.ready.wait()
        print("ready", flush=True)
        try:
            while True:
                time.sleep(3600)
        finally:
            self.client.loop_stop()


def main(argv=None) -> None:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--topic")
    parser.add_argument("--prefix")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--ack-delay", type=float, default=0.0)
    args = parser.parse_args(argv)
    if args.topic:
        topics = [args.topic.rstrip("/")]
    elif args.prefix:
        topics = [f"{args.prefix.rstrip('/')}/{i}" for i in range(args.count)]
    else:
        parser.error("--topic or --prefix is required")
    try:
        Fleet(args.url, topics, args.ack_delay).run()
    except KeyboardInterrupt:  # the bench and tests stop the fleet with SIGINT
        return 0


if __name__ == "__main__":
    sys.exit(main())
