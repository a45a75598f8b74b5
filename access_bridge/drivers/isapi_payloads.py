"""ISAPI request bodies and event mapping for the Hikvision driver (devices.md §1)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from access_bridge.drivers.base import Credential, DeviceEvent

MAX_FACE_BYTES = 200 * 1024
PAGE = 30  # ISAPI searches return at most 30 records per page

# AcsEvent major 5 minors → (decision, reason, method); other minors are not access attempts.
ACCESS_MINORS = {
    1: ("grant", "ok", "card"),  # card authenticated
    6: ("deny", "wrong_gate", "card"),  # card has no permission for this door
    8: ("deny", "expired", "card"),  # card expired
    9: ("deny", "unknown", "card"),  # no such card
    75: ("grant", "ok", "face"),  # face authenticated
    76: ("deny", "unknown", "face"),  # face authentication failed
}
QR_READER_KIND = 3


def search_id() -> str:
    """A fresh searchID (the device keys its result cursor on it)."""
    return uuid.uuid4().hex[:16]


def local_time(value: datetime, zone: ZoneInfo) -> str:
    """A datetime as the device's local wall-clock time (timeType local), without offset."""
    if value.tzinfo is None:
        raise ValueError("aware datetime expected")
    return value.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S")


def stamp(value: datetime, zone: ZoneInfo) -> str:
    """A datetime with the site's offset, as AcsEvent searches expect."""
    return value.astimezone(zone).isoformat(timespec="seconds")


def person(cred: Credential, zone: ZoneInfo, elevator: bool, plan_template: str = "1") -> dict:
    """UserInfo for SetUp: a visitor with its window, its doors (or floors) and an optional PIN."""
    rights = sorted(set(cred.floors if elevator else cred.doors)) or [1]
    info = {
        "employeeNo": cred.key,
        "name": (cred.name or "Visitor")[:32],
        "userType": "visitor",
        "Valid": {
            "enable": True,
            "beginTime": local_time(cred.valid_from, zone),
            "endTime": local_time(cred.valid_until, zone),
            "timeType": "local",
        },
        "doorRight": ",".join(str(n) for n in rights),
        "RightPlan": [{"doorNo": n, "planTemplateNo": plan_template} for n in rights],
        "maxOpenDoorTime": cred.max_uses or 0,
    }
    if cred.pin:
        info["password"] = cred.pin
    return {"UserInfo": info}


def user_search(position: int, keys: list[str] | None = None) -> dict:
    """UserInfo/Search condition, optionally for some employee numbers."""
    cond = {"searchID": search_id(), "searchResultPosition": position, "maxResults": PAGE}
    if keys:
        cond["EmployeeNoList"] = [{"employeeNo": k} for k in keys]
    return {"UserInfoSearchCond": cond}


def detail_delete(keys: list[str]) -> dict:
    """UserInfoDetail/Delete: the persons and everything attached (cards, faces)."""
    return {"UserInfoDetail": {"mode": "byEmployeeNo", "EmployeeNoList": [{"employeeNo": k} for k in keys]}}


def card_record(key: str, card_no: str) -> dict:
    """CardInfo/Record body."""
    return {"CardInfo": {"employeeNo": key, "cardNo": card_no, "cardType": "normalCard"}}


def card_search(key: str, position: int) -> dict:
    """CardInfo/Search condition for one person."""
    return {
        "CardInfoSearchCond": {
            "searchID": search_id(),
            "searchResultPosition": position,
            "maxResults": PAGE,
            "EmployeeNoList": [{"employeeNo": key}],
        }
    }


def card_delete(card_nos: list[str]) -> dict:
    """CardInfo/Delete body."""
    return {"CardInfoDelCond": {"CardNoList": [{"cardNo": c} for c in card_nos]}}


def face_parts(key: str, jpeg: bytes, fdid: str, lib: str) -> dict:
    """Multipart parts for FaceDataRecord / FDSetUp (requests' files= format)."""
    record = {"faceLibType": lib, "FDID": fdid, "FPID": key}
    return {"FaceDataRecord": (None, json.dumps(record), "application/json"), "img": ("face.jpg", jpeg, "image/jpeg")}


def face_delete(key: str) -> dict:
    """FDSearch/Delete body."""
    return {"FPID": [{"value": key}]}


def remote(cmd: str) -> dict:
    """RemoteControl/door body."""
    return {"RemoteControlDoor": {"cmd": cmd}}


def acs_event_cond(position: int, start: datetime, end: datetime, begin_serial: int, zone: ZoneInfo) -> dict:
    """AcsEvent search for every record from a serial number on (major/minor 0 = all)."""
    return {
        "AcsEventCond": {
            "searchID": search_id(),
            "searchResultPosition": position,
            "maxResults": PAGE,
            "major": 0,
            "minor": 0,
            "startTime": stamp(start, zone),
            "endTime": stamp(end, zone),
            "beginSerialNo": begin_serial,
        }
    }


def parse_time(text: str, zone: ZoneInfo) -> datetime:
    """An event time; a time without offset is the device's local time."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=zone)


def access_event(info: dict, zone: ZoneInfo) -> DeviceEvent | None:
    """An AcsEvent record as a DeviceEvent, or None when it is not an access attempt."""
    if info.get("major") != 5 or info.get("minor") not in ACCESS_MINORS:
        return None
    decision, reason, method = ACCESS_MINORS[info["minor"]]
    if method == "card" and info.get("cardReaderKind") == QR_READER_KIND:
        method = "qr"
    return DeviceEvent(
        serial=int(info["serialNo"]),
        at=parse_time(info["time"], zone),
        decision=decision,
        reason=reason,
        method=method,
        key=info.get("employeeNoString") or None,
        card_no=info.get("cardNo") or None,
        door=info.get("doorNo"),
        raw=info,
    )
