"""A Hikvision ISAPI access-control device, as far as the bridge uses it, behind real Digest auth.

It enforces the payload shapes of tests/fixtures/isapi/ (malformed bodies get HTTP 400 with a ResponseStatus),
keeps persons, cards and faces, deletes persons asynchronously (DeleteProcess answers "processing" a few times),
serves AcsEvent searches with serial numbers, records remote opens, and can go down, come back or be slow.
It streams alerts on GET /ISAPI/Event/notification/alertStream (multipart/mixed, boundary MIME_boundary): JSON
AccessControllerEvent parts shaped like tests/fixtures/isapi/alertstream_door_forced.json, and the XML heartbeat of
alertstream_heartbeat.xml every `heartbeat` seconds; push_alert() logs the record (so AcsEvent searches find it too)
and streams it; drop_streams() cuts open streams while the device stays up.
"""

from __future__ import annotations

import copy
import json
import queue
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .isapi_digest import DigestGuard
from .isapi_shapes import problems

MAX_FACE = 200 * 1024
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "isapi"
STREAM_PATH = "/ISAPI/Event/notification/alertStream"
BOUNDARY = "MIME_boundary"


class IsapiError(Exception):
    """A ResponseStatus error to send back."""

    def __init__(self, status_code: int, sub: str, http: int = 400, msg: str = ""):
        super().__init__(sub)
        self.status_code, self.sub, self.http, self.msg = status_code, sub, http, msg


STATUS_STRINGS = {
    1: "OK",
    2: "Device Busy",
    3: "Device Error",
    4: "Invalid Operation",
    5: "Invalid XML Format",
    6: "Invalid Content",
    7: "Reboot Required",
}


class FakeIsapiDevice:
    """State plus controls; start() binds 127.0.0.1 on a free port (kept across down/up)."""

    def __init__(self, username: str = "admin", password: str = "Hik12345", delete_polls: int = 2):  # noqa: S107
        self.guard = DigestGuard(username, password, realm="DS-K1T671M")
        self.persons: dict[str, dict] = {}
        self.cards: dict[str, dict] = {}
        self.faces: dict[str, bytes] = {}
        self.opened: list[tuple[int, str]] = []
        self.events: list[dict] = []
        self.requests: list[tuple[str, str]] = []
        self.delete_polls = delete_polls
        self.delay = 0.0
        self.next_serial = 1
        self.heartbeat = 1.0
        self.streams: list[queue.Queue] = []
        self.stream_connects = 0
        self._deleting: tuple[list[str], int] | None = None
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._conns: set = set()
        self.port = 0

    # -- controls ---------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL for the driver options."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeIsapiDevice:
        """Listen (again) and serve in a background thread."""
        handler = type("Handler", (_Handler,), {"device": self})
        self._server = _Server(("127.0.0.1", self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Go off the network: connections are refused until start() again."""
        self.drop_streams()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        # Kept-alive connections would otherwise go on being served.
        for conn in list(self._conns):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def add_event(
        self,
        minor: int,
        card_no: str | None = None,
        employee: str | None = None,
        door: int = 1,
        reader_kind: int = 3,
        at: str = "2026-01-01T08:30:00+08:00",
        major: int = 5,
    ) -> int:
        """Log an event as the device would; returns its serial number."""
        with self._lock:
            serial = self.next_serial
            self.next_serial += 1
            event = {
                "major": major,
                "minor": minor,
                "time": at,
                "doorNo": door,
                "cardReaderKind": reader_kind,
                "cardReaderNo": 1,
                "serialNo": serial,
                "currentVerifyMode": "card",
            }
            if card_no:
                event["cardNo"] = card_no
            if employee:
                event["employeeNoString"] = employee
            self.events.append(event)
            return serial

    def push_alert(self, major: int, minor: int, door: int = 1, at: str = "2026-01-01T08:30:00+08:00") -> int:
        """An alarm as the device raises it: logged with the next serial and sent on every open alert stream."""
        serial = self.add_event(minor, door=door, at=at, major=major)
        alert = json.loads((FIXTURES / "alertstream_door_forced.json").read_text())
        alert["dateTime"] = at
        event = copy.deepcopy(alert["AccessControllerEvent"])
        event.update(majorEventType=major, subEventType=minor, doorNo=door, serialNo=serial, frontSerialNo=serial - 1)
        alert["AccessControllerEvent"] = event
        with self._lock:
            streams = list(self.streams)
        for q in streams:
            q.put(("application/json", json.dumps(alert).encode()))
        return serial

    def drop_streams(self) -> None:
        """End every open alert stream (a network blip); the device itself stays up."""
        with self._lock:
            streams, self.streams = list(self.streams), []
        for q in streams:
            q.put(None)

    def wait_streams(self, count: int = 1, timeout: float = 5.0) -> bool:
        """True once this many alert streams are open."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.streams) >= count:
                    return True
            time.sleep(0.01)
        return False

    def lose_events(self, count: int) -> None:
        """The ring buffer overwrote some records: serial numbers skip."""
        self.next_serial += count

    # -- endpoints --------------------------------------------------------------------------------------------
    def route(self, method: str, path: str, query: dict, body, parts: dict) -> dict:
        """Dispatch one authenticated request; returns the JSON answer."""
        handlers = {
            ("PUT", "/ISAPI/AccessControl/UserInfo/SetUp"): self._user_setup,
            ("POST", "/ISAPI/AccessControl/UserInfo/Search"): self._user_search,
            ("GET", "/ISAPI/AccessControl/UserInfo/Count"): lambda b: {"UserInfoCount": {"userNumber": len(self.persons)}},
            ("PUT", "/ISAPI/AccessControl/UserInfoDetail/Delete"): self._detail_delete,
            ("GET", "/ISAPI/AccessControl/UserInfoDetail/DeleteProcess"): self._delete_process,
            ("POST", "/ISAPI/AccessControl/CardInfo/Record"): self._card_record,
            ("POST", "/ISAPI/AccessControl/CardInfo/Search"): self._card_search,
            ("PUT", "/ISAPI/AccessControl/CardInfo/Delete"): self._card_delete,
            ("PUT", "/ISAPI/Intelligent/FDLib/FDSearch/Delete"): self._face_delete,
            ("POST", "/ISAPI/AccessControl/AcsEvent"): self._acs_event,
        }
        with self._lock:
            if path.startswith("/ISAPI/AccessControl/RemoteControl/door/") and method == "PUT":
                return self._remote(path.rsplit("/", 1)[1], body)
            if (method, path) in (
                ("POST", "/ISAPI/Intelligent/FDLib/FaceDataRecord"),
                ("PUT", "/ISAPI/Intelligent/FDLib/FDSetUp"),
            ):
                return self._face(parts, replace=method == "PUT")
            handler = handlers.get((method, path))
            if handler is None:
                raise IsapiError(4, "notSupport", http=404)
            return handler(body)

    @staticmethod
    def _shape(name: str, body) -> None:
        errors = problems(name, body)
        if errors:
            raise IsapiError(6, "badJsonContent", msg="; ".join(errors))

    def _user_setup(self, body):
        self._shape("userinfo_setup", body)
        info = body["UserInfo"]
        self.persons[info["employeeNo"]] = info
        return None

    def _user_search(self, body):
        self._shape("userinfo_search", body)
        cond = body["UserInfoSearchCond"]
        wanted = [e["employeeNo"] for e in cond.get("EmployeeNoList", [])]
        found = [p for no, p in self.persons.items() if not wanted or no in wanted]
        return {"UserInfoSearch": self._page(cond, found, "UserInfo")}

    def _detail_delete(self, body):
        self._shape("userinfodetail_delete", body)
        detail = body["UserInfoDetail"]
        nos = list(self.persons) if detail["mode"] == "all" else [e["employeeNo"] for e in detail["EmployeeNoList"]]
        self._deleting = (nos, self.delete_polls)
        return None

    def _delete_process(self, body):
        if self._deleting is None:
            return {"UserInfoDetailDeleteProcess": {"status": "success"}}
        nos, polls = self._deleting
        if polls > 0:
            self._deleting = (nos, polls - 1)
            return {"UserInfoDetailDeleteProcess": {"status": "processing"}}
        for no in nos:
            self.persons.pop(no, None)
            self.faces.pop(no, None)
            for card_no in [c for c, card in self.cards.items() if card["employeeNo"] == no]:
                del self.cards[card_no]
        self._deleting = None
        return {"UserInfoDetailDeleteProcess": {"status": "success"}}

    def _card_record(self, body):
        self._shape("cardinfo_record", body)
        card = body["CardInfo"]
        if card["employeeNo"] not in self.persons:
            raise IsapiError(6, "employeeNoNotExist")
        if card["cardNo"] in self.cards:
            raise IsapiError(6, "cardNoAlreadyExist")
        self.cards[card["cardNo"]] = card
        return None

    def _card_search(self, body):
        self._shape("cardinfo_search", body)
        cond = body["CardInfoSearchCond"]
        wanted = [e["employeeNo"] for e in cond.get("EmployeeNoList", [])]
        found = [c for c in self.cards.values() if not wanted or c["employeeNo"] in wanted]
        return {"CardInfoSearch": self._page(cond, found, "CardInfo")}

    def _card_delete(self, body):
        self._shape("cardinfo_delete", body)
        for item in body["CardInfoDelCond"]["CardNoList"]:
            self.cards.pop(item["cardNo"], None)
        return None

    def _face(self, parts: dict, replace: bool):
        try:
            record = json.loads(parts["FaceDataRecord"])
        except (KeyError, ValueError) as exc:
            raise IsapiError(6, "badJsonContent", msg="FaceDataRecord part missing") from exc
        self._shape("facedatarecord", record)
        image = parts.get("img") or parts.get("FaceImage") or b""
        if not image.startswith(b"\xff\xd8"):
            raise IsapiError(6, "badImage", msg="JPEG expected")
        if len(image) > MAX_FACE:
            raise IsapiError(6, "pictureSizeExceedLimit")
        if record["FPID"] not in self.persons:
            raise IsapiError(6, "employeeNoNotExist")
        if record["FPID"] in self.faces and not replace:
            raise IsapiError(6, "deviceUserAlreadyExistFace")
        self.faces[record["FPID"]] = image
        return None

    def _face_delete(self, body):
        self._shape("fdsearch_delete", body)
        for item in body["FPID"]:
            self.faces.pop(item["value"], None)
        return None

    def _remote(self, door: str, body):
        self._shape("remotecontrol_door", body)
        if not door.isdigit():
            raise IsapiError(6, "badParameters")
        self.opened.append((int(door), body["RemoteControlDoor"]["cmd"]))
        return None

    def _acs_event(self, body):
        self._shape("acsevent_cond", body)
        cond = body["AcsEventCond"]
        found = [
            e
            for e in self.events
            if cond["major"] in (0, e["major"])
            and cond["minor"] in (0, e["minor"])
            and e["serialNo"] >= cond.get("beginSerialNo", 0)
        ]
        return {"AcsEvent": self._page(cond, found, "InfoList")}

    @staticmethod
    def _page(cond: dict, found: list, key: str) -> dict:
        start, size = cond["searchResultPosition"], min(cond["maxResults"], 30)
        page = found[start : start + size]
        more = start + len(page) < len(found)
        answer = {
            "searchID": cond["searchID"],
            "responseStatusStrg": "MORE" if more else ("OK" if page else "NO MATCH"),
            "numOfMatches": len(page),
            "totalMatches": len(found),
        }
        if page:
            answer[key] = page
        return answer


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A client that gave up waiting (the "slow device" tests) is not an error of the fake.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    device: FakeIsapiDevice
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        return

    def setup(self):
        super().setup()
        self.device._conns.add(self.connection)

    def finish(self):
        self.device._conns.discard(self.connection)
        super().finish()

    def _answer(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _status(self, path: str, code: int, sub: str, http: int = 200, msg: str = "", headers=None) -> None:
        body = {"requestURL": path, "statusCode": code, "statusString": STATUS_STRINGS.get(code, "Error"), "subStatusCode": sub}
        if code != 1:
            body.update(errorCode=0x60000000 + code, errorMsg=msg or sub)
        self._answer(http, body, headers)

    def _handle(self) -> None:
        device = self.device
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if device.delay:
            time.sleep(device.delay)
        url = urlsplit(self.path)
        if not device.guard.check(self.command, self.path, self.headers.get("Authorization")):
            self._status(url.path, 4, "unAuthorized", http=401, headers={"WWW-Authenticate": device.guard.challenge()})
            return
        device.requests.append((self.command, url.path))
        if self.command == "GET" and url.path == STREAM_PATH:
            self._alert_stream()
            return
        ctype = self.headers.get("Content-Type", "")
        body, parts = None, {}
        try:
            if ctype.startswith("multipart/form-data"):
                parts = _multipart(raw, ctype)
            elif raw:
                body = json.loads(raw)
            answer = device.route(self.command, url.path, parse_qs(url.query), body, parts)
        except ValueError:
            self._status(url.path, 5, "badJsonFormat", http=400)
        except IsapiError as exc:
            self._status(url.path, exc.status_code, exc.sub, http=exc.http, msg=exc.msg)
        else:
            if answer is None:
                self._status(url.path, 1, "ok")
            else:
                self._answer(200, answer)

    def _alert_stream(self) -> None:
        """A long-lived multipart response: alerts as they happen, a heartbeat when nothing does."""
        device = self.device
        q: queue.Queue = queue.Queue()
        heartbeat = (FIXTURES / "alertstream_heartbeat.xml").read_bytes()
        with device._lock:
            device.streams.append(q)
            device.stream_connects += 1
        self.close_connection = True
        try:
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/mixed; boundary={BOUNDARY}")
            self.send_header("Connection", "close")
            self.end_headers()
            while True:
                try:
                    part = q.get(timeout=device.heartbeat)
                except queue.Empty:
                    part = ("application/xml", heartbeat)
                if part is None:
                    return
                ctype, data = part
                head = f'--{BOUNDARY}\r\nContent-Type: {ctype}; charset="UTF-8"\r\nContent-Length: {len(data)}\r\n\r\n'
                self.wfile.write(head.encode() + data + b"\r\n")
                self.wfile.flush()
        except OSError:
            return  # the bridge went away
        finally:
            with device._lock:
                if q in device.streams:
                    device.streams.remove(q)

    do_GET = do_PUT = do_POST = _handle


def _multipart(raw: bytes, ctype: str) -> dict[str, bytes]:
    """Parts of a multipart/form-data body by name."""
    boundary = ctype.split("boundary=", 1)[1].strip().strip('"').encode()
    parts: dict[str, bytes] = {}
    for chunk in raw.split(b"--" + boundary):
        chunk = chunk.removeprefix(b"\r\n")
        if not chunk or chunk.startswith(b"--"):
            continue
        head, _, content = chunk.partition(b"\r\n\r\n")
        name = head.split(b'name="', 1)[1].split(b'"', 1)[0].decode() if b'name="' in head else ""
        parts[name] = content.removesuffix(b"\r\n")
    return parts
