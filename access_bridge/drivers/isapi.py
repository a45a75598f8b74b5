"""Hikvision ISAPI: face terminals, door controllers and elevator controllers, over HTTP with Digest auth.

(docs/bridge.md gives the options and says how credentials, revocations and events map.)
"""

from __future__ import annotations

import time
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from requests.auth import HTTPDigestAuth

from access_bridge.drivers import isapi_payloads as p
from access_bridge.drivers.base import (
    EMERGENCY_MODES,
    AlarmBuffer,
    Capability,
    Credential,
    CredentialRejected,
    DeviceAlarm,
    DeviceAuthFailed,
    DeviceEvent,
    DeviceUnreachable,
    Driver,
    DriverError,
    register,
)
from access_bridge.drivers.isapi_alerts import AlertStream, alarm_from_record
from portal.devices.drivers import ISAPI

KIND_CAPABILITIES = ISAPI.kinds  # capabilities differ by device family (options["kind"])
# ResponseStatus.statusCode: 2 busy and 7 reboot required pass with time; 4–6 mean this payload will never do.
_RETRY_LATER = {2, 7}
_REJECTED = {4, 5, 6}
_ABSENT = {"employeeNoNotExist", "cardNoNotExist", "noFace", "FPIDNotExist"}
MAX_EVENT_PAGES = 20


@register
class IsapiDriver(Driver):
    """Hikvision access control over ISAPI."""

    slug = ISAPI.slug
    capabilities = ISAPI.capabilities
    serials_dense = False

    def __init__(self, device_id: int, options: dict):
        super().__init__(device_id, options)
        try:
            self.base = self.options["url"].rstrip("/")
            self.zone = ZoneInfo(self.options.get("timezone", "Asia/Shanghai"))
        except (KeyError, AttributeError, ZoneInfoNotFoundError, ValueError) as exc:
            raise DriverError("isapi options need url and a valid timezone") from exc
        self.kind = self.options.get("kind", "face")
        self.door_count = int(self.options.get("door_count", 1))
        if self.kind not in KIND_CAPABILITIES:
            raise DriverError(f"isapi kind must be one of {sorted(KIND_CAPABILITIES)}")
        self.capabilities = KIND_CAPABILITIES[self.kind]
        self.timeout = float(self.options.get("timeout", 5))
        self.delete_timeout = float(self.options.get("delete_timeout", 10))
        self.poll_interval = float(self.options.get("poll_interval", 0.2))
        self.lookback = timedelta(days=int(self.options.get("event_lookback_days", 30)))
        self._session = requests.Session()
        self._session.auth = HTTPDigestAuth(self.options.get("username", "admin"), self.options.get("password", ""))
        self._session.verify = self.options.get("verify", True)
        self._lost: list[tuple[int, int]] = []
        self._alarms = AlarmBuffer()
        self._stream: AlertStream | None = None

    # -- contract ---------------------------------------------------------------------------------------------
    def upsert(self, cred: Credential) -> None:
        """Set up the person, then make its card and face match the credential."""
        if cred.face_jpeg is not None and Capability.FACE in self.capabilities:
            _check_jpeg(cred.face_jpeg)
        self._call("PUT", "/ISAPI/AccessControl/UserInfo/SetUp", p.person(cred, self.zone, self.kind == "elevator"))
        self._sync_card(cred.key, cred.card_no)
        if Capability.FACE in self.capabilities:
            self._sync_face(cred.key, cred.face_jpeg)

    def revoke(self, key: str) -> None:
        """Delete the person, its cards and face; wait until the device reports the deletion done."""
        self._call("PUT", "/ISAPI/AccessControl/UserInfoDetail/Delete", p.detail_delete([key]), absent_ok=True)
        deadline = time.monotonic() + self.delete_timeout
        while True:
            answer = self._call("GET", "/ISAPI/AccessControl/UserInfoDetail/DeleteProcess")
            status = (answer or {}).get("UserInfoDetailDeleteProcess", {}).get("status")
            if status == "success":
                return
            if status == "failed":
                raise DriverError(f"device failed to delete {key}")
            if time.monotonic() > deadline:
                raise DeviceUnreachable(f"deletion of {key} still {status!r} after {self.delete_timeout:g}s")
            time.sleep(self.poll_interval)

    def open(self, door: int | None = None, reason: str | None = None) -> None:
        """Open a door now (cmd "open", whatever the reason text says)."""
        self._call("PUT", f"/ISAPI/AccessControl/RemoteControl/door/{int(door or 1)}", p.remote("open"), query=False)

    def emergency(self, mode: str) -> None:
        """release: every door of the device remains open (cmd "alwaysOpen"); restore: cmd "close" ends it."""
        if mode not in EMERGENCY_MODES:
            raise DriverError(f"unknown emergency mode {mode!r}")
        if Capability.EMERGENCY_RELEASE not in self.capabilities:
            raise DriverError(f"isapi kind {self.kind!r} cannot hold doors open")
        # "close" after "alwaysOpen" returns a Hikvision door to card control (there is no separate "normal").
        cmd = "alwaysOpen" if mode == "release" else "close"
        for door in range(1, self.door_count + 1):
            self._call("PUT", f"/ISAPI/AccessControl/RemoteControl/door/{door}", p.remote(cmd), query=False)

    def call_lift(self, door: int | None = None, reason: str | None = None) -> None:
        """Elevator controllers: call the car for a visitor (cmd "visitorCallLadder")."""
        if Capability.CALL_LIFT not in self.capabilities:
            raise DriverError(f"isapi kind {self.kind!r} cannot call a lift")
        self._call("PUT", f"/ISAPI/AccessControl/RemoteControl/door/{int(door or 1)}", p.remote("visitorCallLadder"), query=False)

    def health(self) -> bool:
        """True when the device answers an authenticated request."""
        try:
            self.check()
        except DriverError:
            return False
        return True

    def check(self) -> None:
        """An authenticated request; a refused login raises DeviceAuthFailed, not DeviceUnreachable."""
        self._call("GET", "/ISAPI/AccessControl/UserInfo/Count")

    def keys(self) -> set[str]:
        """Employee numbers of the visitor persons on the device."""
        found: set[str] = set()
        for info in self._pages("/ISAPI/AccessControl/UserInfo/Search", p.user_search, "UserInfoSearch", "UserInfo"):
            if info.get("userType") == "visitor":
                found.add(str(info["employeeNo"]))
        return found

    def events(self, after_serial: int) -> list[DeviceEvent]:
        """Access events above after_serial, oldest first; remembers real serial gaps for lost_serials()."""
        now = datetime.now(UTC)

        def cond(position):
            return p.acs_event_cond(position, now - self.lookback, now + timedelta(days=1), after_serial + 1, self.zone)

        records = [
            r
            for r in self._pages("/ISAPI/AccessControl/AcsEvent", cond, "AcsEvent", "InfoList", limit=MAX_EVENT_PAGES)
            if int(r.get("serialNo", 0)) > after_serial
        ]
        records.sort(key=lambda r: int(r["serialNo"]))
        self._lost = _gaps(after_serial, [int(r["serialNo"]) for r in records])
        # The pull is the alarms' fallback: what the stream missed while it was down arrives here (same source key).
        for record in records:
            alarm = alarm_from_record(record, self.zone)
            if alarm is not None:
                self._alarms.add(alarm)
        return [event for event in (p.access_event(r, self.zone) for r in records) if event is not None]

    def lost_serials(self) -> list[tuple[int, int]]:
        """Serial ranges missing from the device's log, seen by the last events() call."""
        return list(self._lost)

    def watch_alarms(self, notify) -> None:
        """Open the terminal's alert stream (one per terminal, on its own thread, reconnecting with back-off)."""
        self._alarms.notify = notify
        if self._stream is None:
            self._stream = AlertStream(
                self.base,
                self._session.auth,
                self.zone,
                self._alarms,
                self._session.verify,
                float(self.options.get("stream_timeout", 60)),
            ).start()

    def alarms(self) -> list[DeviceAlarm]:
        """Alarms from the stream and from pulled records since the last call."""
        return self._alarms.take()

    def close(self) -> None:
        """Close the alert stream and pooled HTTP connections."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        self._session.close()

    # -- credentials ------------------------------------------------------------------------------------------
    def _sync_card(self, key: str, card_no: str | None) -> None:
        held = [
            c["cardNo"]
            for c in self._pages(
                "/ISAPI/AccessControl/CardInfo/Search", lambda pos: p.card_search(key, pos), "CardInfoSearch", "CardInfo"
            )
        ]
        stale = [c for c in held if c != card_no]
        if stale:
            self._call("PUT", "/ISAPI/AccessControl/CardInfo/Delete", p.card_delete(stale), absent_ok=True)
        if card_no and card_no not in held:
            status = self._call(
                "POST", "/ISAPI/AccessControl/CardInfo/Record", p.card_record(key, card_no), tolerate={"cardNoAlreadyExist"}
            )
            if status and status.get("subStatusCode") == "cardNoAlreadyExist":
                # Left over from an ended pass on this device: card numbers are unique among live passes.
                self._call("PUT", "/ISAPI/AccessControl/CardInfo/Delete", p.card_delete([card_no]), absent_ok=True)
                self._call("POST", "/ISAPI/AccessControl/CardInfo/Record", p.card_record(key, card_no))

    def _sync_face(self, key: str, jpeg: bytes | None) -> None:
        fdid, lib = str(self.options.get("fdid", "1")), self.options.get("face_lib", "blackFD")
        if jpeg is None:
            self._call(
                "PUT",
                f"/ISAPI/Intelligent/FDLib/FDSearch/Delete?format=json&FDID={fdid}&faceLibType={lib}",
                p.face_delete(key),
                query=False,
                absent_ok=True,
            )
            return
        status = self._call(
            "POST",
            "/ISAPI/Intelligent/FDLib/FaceDataRecord",
            files=p.face_parts(key, jpeg, fdid, lib),
            tolerate={"deviceUserAlreadyExistFace"},
        )
        if status and status.get("subStatusCode") == "deviceUserAlreadyExistFace":
            self._call("PUT", "/ISAPI/Intelligent/FDLib/FDSetUp", files=p.face_parts(key, jpeg, fdid, lib))

    # -- HTTP -------------------------------------------------------------------------------------------------
    def _pages(self, path: str, make_cond, outer: str, inner: str, limit: int = 1000):
        position = 0
        for _ in range(limit):
            answer = (self._call("POST", path, make_cond(position)) or {}).get(outer, {})
            items = answer.get(inner) or []
            yield from items
            position += len(items)
            if answer.get("responseStatusStrg") != "MORE" or not items:
                return

    def _call(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        *,
        files=None,
        query: bool = True,
        absent_ok: bool = False,
        tolerate: AbstractSet[str] = frozenset(),
    ) -> dict | None:
        """One request; returns the JSON answer, or the ResponseStatus of a tolerated error."""
        url = self.base + path + ("?format=json" if query and "?" not in path else "")
        try:
            resp = self._session.request(method, url, json=body, files=files, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise DeviceUnreachable(f"{self.base} unreachable: {exc.__class__.__name__}") from exc
        except requests.RequestException as exc:
            raise DriverError(f"{self.base}: {exc}") from exc
        if resp.status_code in (401, 403):
            raise DeviceAuthFailed(f"{self.base} refused our credentials (HTTP {resp.status_code})")
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        status = _status_of(answer)
        if status is not None and status.get("statusCode") != 1:
            sub = status.get("subStatusCode", "")
            if sub in tolerate:
                return status
            if absent_ok and sub in _ABSENT:
                return None
            raise _translate(status, path)
        if resp.status_code >= 500:
            raise DeviceUnreachable(f"{self.base} answered HTTP {resp.status_code}")
        if resp.status_code >= 400:
            raise DriverError(f"{self.base}{path} answered HTTP {resp.status_code}")
        return answer


def _status_of(answer) -> dict | None:
    if not isinstance(answer, dict):
        return None
    if "statusCode" in answer:
        return answer
    inner = answer.get("ResponseStatus")
    return inner if isinstance(inner, dict) else None


def _translate(status: dict, path: str) -> DriverError:
    code, sub = status.get("statusCode"), status.get("subStatusCode", "")
    text = f"{path}: {status.get('statusString', '')} ({sub}) {status.get('errorMsg', '')}".strip()
    if code in _REJECTED:
        return CredentialRejected(text)
    if code in _RETRY_LATER:
        return DeviceUnreachable(text)
    return DriverError(text)


def _check_jpeg(jpeg: bytes) -> None:
    if not jpeg.startswith(b"\xff\xd8"):
        raise CredentialRejected("face image must be a JPEG")
    if len(jpeg) > p.MAX_FACE_BYTES:
        raise CredentialRejected(f"face image is {len(jpeg) // 1024} KB; terminals take at most 200 KB")


def _gaps(after: int, serials: list[int]) -> list[tuple[int, int]]:
    """Missing serial ranges between after (when known) and the serials seen, and between them."""
    gaps, last = [], after if after > 0 else None
    for serial in serials:
        if last is not None and serial > last + 1:
            gaps.append((last + 1, serial - 1))
        last = serial
    return gaps
