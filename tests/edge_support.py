"""Helpers for the edge tests: deciders on local stores, and a portal database that goes away."""

import contextlib
import time

import portal.bridge.edge_models  # noqa: F401  (tables for create_all)
from access_bridge.edge import EdgeDecider
from access_bridge.edge_store import EdgeStore
from portal.app import create_app
from portal.config import TestConfig
from portal.passes import codes

# Nothing listens on port 1: connecting fails at once with a real OperationalError.
UNREACHABLE = "postgresql+psycopg://edge@127.0.0.1:1/none?connect_timeout=1"
_down_app = {}


def down_app():
    """An app whose database cannot be reached (built once per test session)."""
    if "app" not in _down_app:
        _down_app["app"] = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=UNREACHABLE, SERVER_NAME="portal.test")
    return _down_app["app"]


def make_decider(app, tmp_path, name="a", **kw):
    """A decider on its own store file, synced with the portal."""
    store = EdgeStore(tmp_path / f"edge-{name}.db")
    decider = EdgeDecider(app, store, **kw)
    assert decider.sync()
    return decider


@contextlib.contextmanager
def portal_down(*deciders):
    """The portal's database is unreachable for these deciders inside the block."""
    apps = [d.app for d in deciders]
    for d in deciders:
        d.app = down_app()
    try:
        yield
    finally:
        for d, app in zip(deciders, apps, strict=True):
            d.app = app


def qr_now(pass_, now=None):
    """The full signed QR text of a pass now (needs an app context)."""
    return codes.qr_text(pass_, now or time.time())


def events(app, **where):
    """AccessEvents matching simple equality filters, oldest first."""
    from portal.events.models import AccessEvent
    from portal.extensions import db

    q = db.select(AccessEvent).order_by(AccessEvent.id)
    for key, value in where.items():
        q = q.where(getattr(AccessEvent, key) == value)
    return list(db.session.scalars(q))


class OsdpGate:
    """libosdp's own PeripheralDevice (a QR reader/keypad) over a socket pair, with the OSDP driver as panel."""

    def __init__(self, device_id):
        import osdp

        from access_bridge.drivers.osdp import OsdpDriver
        from access_bridge.drivers.osdp_channel import SocketChannel

        self.osdp = osdp
        self.key = osdp.KeyStore.gen_key()
        self.channel = SocketChannel()
        caps = osdp.PDCapabilities(
            [(osdp.Capability.OutputControl, 1, 1), (osdp.Capability.LEDControl, 1, 1), (osdp.Capability.AudibleControl, 1, 1)]
        )
        self.pd = osdp.PeripheralDevice(
            osdp.PDInfo(1, self.channel, scbk=self.key, flags=[osdp.LibFlag.EnforceSecure]),
            caps,
            log_level=osdp.LogLevel.Emergency,
        )
        self.pd.start()
        self.driver = OsdpDriver(
            device_id, {"scbk": self.key.hex(), "address": 1, "log_level": "Emergency"}, connect=self._connect
        )

    def _connect(self):
        import socket

        ours, theirs = socket.socketpair()
        self.channel.drop()
        self.channel.attach(theirs)
        return ours

    def scan(self, data: bytes):
        """A QR read, as raw card data."""
        self.pd.submit_event(
            {
                "event": self.osdp.Event.CardRead,
                "reader_no": 0,
                "direction": 0,
                "format": self.osdp.CardFormat.Unspecified,
                "length": 8 * len(data),
                "data": data,
            }
        )

    def type(self, digits: str):
        """Key presses ending with '#'."""
        self.pd.submit_event({"event": self.osdp.Event.KeyPress, "reader_no": 0, "data": (digits + "#").encode()})

    def answer(self, window=2.0):
        """The commands of one answer: ["relay", "green"...] or ["red"...]."""
        got, deadline = [], time.monotonic() + window
        while time.monotonic() < deadline and len(got) < 3:
            cmd = self.pd.get_command(timeout=0.05)
            if cmd is None:
                continue
            if cmd["command"] == self.osdp.Command.Output:
                got.append("relay")
            elif cmd["command"] == self.osdp.Command.LED:
                got.append("green" if cmd["on_color"] == self.osdp.CommandLEDColor.Green else "red")
            elif cmd["command"] == self.osdp.Command.Buzzer:
                got.append("beep")
                break
        return got

    def close(self):
        self.driver.close()
        self.pd.teardown()
        self.channel.drop()
