"""The ISAPI request shapes, taken from the sample payloads in tests/fixtures/isapi/.

A body conforms when every field it carries exists in the sample with the same JSON type, the required fields
are present, and the constrained fields match their patterns. The fake device and the driver tests share this.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

FIXTURES = Path(__file__).parent.parent / "fixtures" / "isapi"

LOCAL_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"
REQUIRED = {
    "userinfo_setup": [
        "UserInfo.employeeNo",
        "UserInfo.userType",
        "UserInfo.Valid.enable",
        "UserInfo.Valid.beginTime",
        "UserInfo.Valid.endTime",
    ],
    "userinfo_search": [
        "UserInfoSearchCond.searchID",
        "UserInfoSearchCond.searchResultPosition",
        "UserInfoSearchCond.maxResults",
    ],
    "userinfodetail_delete": ["UserInfoDetail.mode", "UserInfoDetail.EmployeeNoList"],
    "cardinfo_record": ["CardInfo.employeeNo", "CardInfo.cardNo", "CardInfo.cardType"],
    "cardinfo_search": [
        "CardInfoSearchCond.searchID",
        "CardInfoSearchCond.searchResultPosition",
        "CardInfoSearchCond.maxResults",
    ],
    "cardinfo_delete": ["CardInfoDelCond.CardNoList"],
    "facedatarecord": ["faceLibType", "FDID", "FPID"],
    "fdsearch_delete": ["FPID"],
    "remotecontrol_door": ["RemoteControlDoor.cmd"],
    "acsevent_cond": [
        "AcsEventCond.searchID",
        "AcsEventCond.searchResultPosition",
        "AcsEventCond.maxResults",
        "AcsEventCond.major",
        "AcsEventCond.minor",
    ],
}
PATTERNS = {
    "UserInfo.employeeNo": r"[A-Za-z0-9_-]{1,32}",
    "UserInfo.userType": r"normal|visitor|blackList",
    "UserInfo.Valid.beginTime": LOCAL_TIME,
    "UserInfo.Valid.endTime": LOCAL_TIME,
    "UserInfo.Valid.timeType": r"local|UTC",
    "UserInfo.doorRight": r"\d+(,\d+)*",
    "UserInfo.password": r"\d{4,8}",
    "UserInfoDetail.mode": r"byEmployeeNo|all",
    "CardInfo.cardNo": r"[0-9A-Za-z]{1,20}",
    "CardInfo.cardType": r"normalCard|patrolCard|hijackCard|superCard|dismissingCard|emergencyCard",
    "CardInfoDelCond.CardNoList.cardNo": r"[0-9A-Za-z]{1,20}",
    "faceLibType": r"blackFD|staticFD",
    "RemoteControlDoor.cmd": r"open|close|alwaysOpen|alwaysClose|visitorCallLadder|householdCallLadder",
}


@cache
def sample(name: str) -> dict:
    """A fixture payload by file stem."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _type(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def _walk(body, model, path: str, errors: list[str]) -> None:
    if _type(body) != _type(model):
        errors.append(f"{path or 'body'}: expected {_type(model)}")
        return
    if isinstance(body, dict):
        for key, value in body.items():
            sub = f"{path}.{key}" if path else key
            if key not in model:
                errors.append(f"{sub}: unknown field")
            else:
                _walk(value, model[key], sub, errors)
    elif isinstance(body, list):
        for item in body:
            _walk(item, model[0], path, errors)
    elif path in PATTERNS and not re.fullmatch(PATTERNS[path], str(body)):
        errors.append(f"{path}: bad value {body!r}")


def _has(body, dotted: str) -> bool:
    node = body
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def problems(name: str, body) -> list[str]:
    """What is wrong with body as a request of this kind (empty when it conforms)."""
    errors: list[str] = []
    _walk(body, sample(name), "", errors)
    errors += [f"{field}: missing" for field in REQUIRED.get(name, []) if not _has(body, field)]
    return errors
