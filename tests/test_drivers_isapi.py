"""The Hikvision ISAPI driver against a Digest-authenticated protocol fake that enforces the documented shapes."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import requests
from fakes.isapi_fake import FakeIsapiDevice
from fakes.isapi_shapes import problems, sample
from PIL import Image
from requests.auth import HTTPDigestAuth

from access_bridge.drivers import get_driver
from access_bridge.drivers import isapi_payloads as p
from access_bridge.drivers.base import (
    Capability,
    Credential,
    CredentialRejected,
    DeviceAuthFailed,
    DeviceUnreachable,
)

START = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
END = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")


def jpeg(size=(64, 64), quality=85) -> bytes:
    """A small real JPEG."""
    out = io.BytesIO()
    Image.new("RGB", size, (180, 140, 120)).save(out, "JPEG", quality=quality)
    return out.getvalue()


def cred(**over) -> Credential:
    """A visitor credential for pass 42."""
    values = dict(
        key="V-42",
        pass_id=42,
        version=1,
        name="Visitor",
        valid_from=START,
        valid_until=END,
        card_no="12345678",
        pin="482913",
        doors=[1, 2],
    )
    values.update(over)
    return Credential(**values)


@pytest.fixture
def fake():
    """A running fake device."""
    device = FakeIsapiDevice(delete_polls=2).start()
    yield device
    device.stop()


def driver_for(device, **options):
    """An isapi driver pointed at the fake."""
    base = {
        "url": device.url,
        "username": "admin",
        "password": "Hik12345",
        "timezone": "Asia/Shanghai",
        "kind": "face",
        "timeout": 1,
        "poll_interval": 0.01,
    }
    return get_driver("isapi", 3, {**base, **options})


# -- payloads against the fixtures -------------------------------------------------------------------------------
def test_payloads_conform_to_the_documented_samples():
    assert p.person(cred(), SHANGHAI, elevator=False) == sample("userinfo_setup")
    assert problems("userinfo_setup", p.person(cred(pin=None, floors=[3, 5]), SHANGHAI, elevator=True)) == []
    assert p.detail_delete(["V-42"]) == sample("userinfodetail_delete")
    assert p.card_record("V-42", "12345678") == sample("cardinfo_record")
    assert p.card_delete(["12345678"]) == sample("cardinfo_delete")
    assert p.face_delete("V-42") == sample("fdsearch_delete")
    assert p.remote("open") == sample("remotecontrol_door")
    assert problems("cardinfo_search", p.card_search("V-42", 0)) == []
    assert problems("acsevent_cond", p.acs_event_cond(0, START, END, 5, SHANGHAI)) == []


def test_shape_check_rejects_what_a_device_rejects():
    bad = p.person(cred(), SHANGHAI, elevator=False)
    bad["UserInfo"]["Valid"]["beginTime"] = "2026-01-01 08:00"
    bad["UserInfo"]["colour"] = "red"
    assert problems("userinfo_setup", bad) == [
        "UserInfo.Valid.beginTime: bad value '2026-01-01 08:00'",
        "UserInfo.colour: unknown field",
    ]
    assert problems("cardinfo_record", {"CardInfo": {"cardNo": 12345678}}) == [
        "CardInfo.cardNo: expected str",
        "CardInfo.employeeNo: missing",
        "CardInfo.cardType: missing",
    ]


def test_events_map_minors_to_our_reasons():
    infos = sample("acsevent_response")["AcsEvent"]["InfoList"]
    events = [p.access_event(info, SHANGHAI) for info in infos]
    assert [(e.serial, e.decision, e.reason, e.method, e.key, e.card_no) for e in events] == [
        (101, "grant", "ok", "qr", "V-42", "12345678"),
        (102, "deny", "unknown", "qr", None, "99999999"),
    ]
    assert events[0].at == datetime(2026, 1, 1, 0, 30, tzinfo=UTC)
    assert p.access_event({"major": 5, "minor": 21, "serialNo": 5, "time": "2026-01-01T08:00:00"}, SHANGHAI) is None


# -- against the fake --------------------------------------------------------------------------------------------
def test_fake_demands_digest_auth(fake):
    url = fake.url + "/ISAPI/AccessControl/UserInfo/Count?format=json"
    assert requests.get(url, timeout=2).status_code == 401
    assert requests.get(url, auth=HTTPDigestAuth("admin", "wrong"), timeout=2).status_code == 401
    assert requests.get(url, auth=HTTPDigestAuth("admin", "Hik12345"), timeout=2).json() == {"UserInfoCount": {"userNumber": 0}}


def test_upsert_puts_person_card_and_face_in_local_time(fake):
    driver = driver_for(fake)
    face = jpeg()
    driver.upsert(cred(face_jpeg=face))
    person = fake.persons["V-42"]
    assert person["Valid"] == {
        "enable": True,
        "beginTime": "2026-01-01T08:00:00",
        "endTime": "2026-01-01T20:00:00",
        "timeType": "local",
    }
    assert (person["userType"], person["doorRight"], person["password"]) == ("visitor", "1,2", "482913")
    assert fake.cards == {"12345678": {"employeeNo": "V-42", "cardNo": "12345678", "cardType": "normalCard"}}
    assert fake.faces == {"V-42": face}
    assert driver.keys() == {"V-42"}
    driver.close()


def test_changed_card_and_face_are_replaced_and_dropped_face_deleted(fake):
    driver = driver_for(fake)
    driver.upsert(cred(face_jpeg=jpeg()))
    newer = jpeg(size=(80, 80))
    driver.upsert(cred(card_no="87654321", face_jpeg=newer, version=2))
    assert set(fake.cards) == {"87654321"}
    assert fake.faces["V-42"] == newer
    driver.upsert(cred(card_no="87654321", face_jpeg=None, version=3))  # consent withdrawn
    assert fake.faces == {}


def test_elevator_rights_are_floors_and_call_uses_visitor_call_ladder(fake):
    driver = driver_for(fake, kind="elevator")
    assert Capability.FLOORS in driver.capabilities and Capability.FACE not in driver.capabilities
    driver.upsert(cred(floors=[5, 3], doors=[], pin=None))
    assert fake.persons["V-42"]["doorRight"] == "3,5"
    assert fake.persons["V-42"]["RightPlan"] == [{"doorNo": 3, "planTemplateNo": "1"}, {"doorNo": 5, "planTemplateNo": "1"}]
    driver.command("call_lift", 5, reason="visitor")
    driver_for(fake).open(2)
    assert fake.opened == [(5, "visitorCallLadder"), (2, "open")]


def test_revoke_waits_for_the_asynchronous_delete(fake):
    driver = driver_for(fake)
    driver.upsert(cred(face_jpeg=jpeg()))
    driver.upsert(cred(key="V-43", card_no="555"))
    driver.revoke("V-42")
    assert set(fake.persons) == {"V-43"} and set(fake.cards) == {"555"} and fake.faces == {}
    polls = [r for r in fake.requests if r[1].endswith("DeleteProcess")]
    assert len(polls) == 3  # processing, processing, success
    driver.revoke("V-42")  # absent: still fine


def test_oversized_or_non_jpeg_faces_are_refused_before_anything_is_sent(fake):
    driver = driver_for(fake)
    noise = Image.effect_noise((600, 600), 100).convert("RGB")
    big = io.BytesIO()
    noise.save(big, "JPEG", quality=100)
    assert len(big.getvalue()) > 200 * 1024
    with pytest.raises(CredentialRejected):
        driver.upsert(cred(face_jpeg=big.getvalue()))
    with pytest.raises(CredentialRejected):
        driver.upsert(cred(face_jpeg=b"\x89PNG not a jpeg"))
    assert fake.requests == []


def test_device_content_errors_become_credential_rejected(fake):
    driver = driver_for(fake)
    with pytest.raises(CredentialRejected) as info:
        driver.upsert(cred(pin="12"))  # the device wants 4–8 digits
    assert "UserInfo.password" in str(info.value)
    assert "V-42" not in fake.persons


def test_wrong_password_is_auth_failed(fake):
    driver = driver_for(fake, password="nope")
    with pytest.raises(DeviceAuthFailed):
        driver.upsert(cred())
    assert driver.health() is False


def test_events_paginate_and_report_gaps(fake):
    driver = driver_for(fake)
    for _ in range(34):
        fake.add_event(1, card_no="12345678", employee="V-42")
    fake.add_event(21)  # door unlocked: not an access attempt, but it uses a serial
    fake.lose_events(3)
    fake.add_event(9, card_no="999")
    events = driver.events(0)
    assert [e.serial for e in events] == [*range(1, 35), 39]
    assert events[-1].reason == "unknown"
    assert driver.lost_serials() == [(36, 38)]
    assert driver.events(39) == []
    fake.add_event(75, employee="V-42", reader_kind=1)
    assert [(e.serial, e.method) for e in driver.events(39)] == [(40, "face")]
    assert driver.lost_serials() == []


def test_unreachable_slow_and_back_again(fake):
    driver = driver_for(fake, timeout=0.5)
    driver.upsert(cred())
    fake.stop()
    started = time.monotonic()
    with pytest.raises(DeviceUnreachable) as info:
        driver.revoke("V-42")
    assert time.monotonic() - started < 2
    assert isinstance(info.value.__cause__, requests.ConnectionError)
    fake.start()
    fake.delay = 1.0
    with pytest.raises(DeviceUnreachable):
        driver.revoke("V-42")
    fake.delay = 0
    assert driver.health()
    driver.revoke("V-42")
    assert fake.persons == {} and fake.cards == {}
