"""The device form is generated from the driver's declared options: fields, help, validation in both languages, secrets."""

import json

import pytest
from support import csrf, login

from portal.devices import driver_options
from portal.devices.drivers import SPECS
from portal.devices.models import Device
from portal.extensions import db

PW = "broker-Pa55-word"


def _manager(client, world, lang="en"):
    assert login(client, world.manager, world.PASSWORD).status_code == 302
    client.get(f"/desk/?lang={lang}")


def _add(client, driver, **fields):
    data = {"csrf_token": csrf(client, f"/devices/new?driver={driver}"), "driver": driver} | fields
    return client.post(f"/devices/new?driver={driver}", data=data)


def _mqtt(**extra):
    return {"name": "east-door", "kind": "door_controller", "o_url": "mqtt://10.0.0.5:1883", "o_topic": "door/east"} | extra


def _device(name):
    db.session.expire_all()
    return db.session.scalar(db.select(Device).where(Device.name == name))


def test_every_declared_option_is_typed_and_helped():
    for spec in SPECS.values():
        for opt in spec.options:
            assert opt.type in driver_options.TYPES and str(opt.label) and str(opt.help), (spec.slug, opt.name)
            assert opt.type != "choice" or opt.choices


def test_mqtt_form_shows_one_field_per_option_with_help(client, world):
    _manager(client, world)
    page = client.get("/devices/new?driver=mqtt").get_data(as_text=True)
    for name in ("o_url", "o_topic", "o_username", "o_password", "o_doorip", "o_timeout"):
        assert f'name="{name}"' in page
    assert 'type="password"' in page and "commands then go to door/1/cmd" in page
    assert 'name="options"' in page  # the advanced JSON editor, closed
    client.get("/desk/?lang=zh")
    zh = client.get("/devices/new?driver=mqtt").get_data(as_text=True)
    assert "代理服务器地址" in zh and "Broker address" not in zh


def test_adding_an_mqtt_door_stores_typed_options_and_never_shows_the_password(client, world):
    _manager(client, world)
    resp = _add(client, "mqtt", **_mqtt(o_password=PW, o_timeout="2.5", doors="1, 2"))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    dev = _device("east-door")
    assert dev.driver == "mqtt" and dev.doors == [1, 2]
    assert dev.options == {"url": "mqtt://10.0.0.5:1883", "topic": "door/east", "password": PW, "timeout": 2.5}
    for path in (f"/devices/{dev.id}", f"/devices/{dev.id}/edit"):
        assert PW not in client.get(path).get_data(as_text=True)
    # Saving with the password left blank keeps it; typing one replaces it.
    edit = {"csrf_token": csrf(client, f"/devices/{dev.id}/edit"), "name": "east-door", "o_url": "mqtt://10.0.0.6"}
    edit |= {"o_topic": "door/east", "o_password": ""}
    assert client.post(f"/devices/{dev.id}/edit", data=edit).status_code == 302
    assert _device("east-door").options["password"] == PW and _device("east-door").options["url"] == "mqtt://10.0.0.6"
    edit |= {"o_password": "new-Pa55"}
    assert client.post(f"/devices/{dev.id}/edit", data=edit).status_code == 302
    assert _device("east-door").options["password"] == "new-Pa55"


@pytest.mark.parametrize(
    ("lang", "required", "range_", "address"),
    [
        ("en", "This field is required.", "Enter a value from 0.5 to 60.", "Enter an address like mqtt://192.168.1.20."),
        ("zh", "此项为必填项。", "请输入 0.5 到 60 之间的值。", "请输入类似 mqtt://192.168.1.20 的地址。"),
    ],
)
def test_validation_errors_in_the_managers_language(client, world, lang, required, range_, address):
    _manager(client, world, lang)
    resp = _add(client, "mqtt", **_mqtt(o_topic="", o_timeout="600", o_url="http://x", o_password=PW))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and _device("east-door") is None
    assert required in page and range_ in page and address in page
    assert PW not in page  # a typed secret is not sent back either


def test_osdp_key_and_port_are_checked(client, world):
    if "osdp" not in SPECS or not SPECS["osdp"].available():
        pytest.skip("the osdp driver is not installed here")
    _manager(client, world)
    base = {"name": "gate-osdp", "kind": "gate_reader", "o_host": "10.0.0.7", "o_transport": "tcp", "o_card_method": "qr"}
    bad = _add(client, "osdp", **base, o_port="70000", o_scbk="xyz").get_data(as_text=True)
    assert "Enter a value from 1 to 65535." in bad and "Enter exactly 32 hexadecimal digits" in bad
    good = _add(client, "osdp", **base, o_port="4001", o_scbk="00112233445566778899aabbccddeeff")
    assert good.status_code == 302 and _device("gate-osdp").options["port"] == 4001


def test_json_editor_is_checked_the_same_way(client, world):
    _manager(client, world)
    unknown = _add(client, "mqtt", **_mqtt(options=json.dumps({"url": "mqtt://b", "topic": "t", "colour": "red"})))
    assert unknown.status_code == 400 and "Unknown options: colour." in unknown.get_data(as_text=True)
    typed = _add(client, "mqtt", **_mqtt(options=json.dumps({"url": "mqtt://b", "topic": "t", "timeout": "soon"})))
    assert typed.status_code == 400 and "Enter a number." in typed.get_data(as_text=True)
    ok = _add(client, "mqtt", **_mqtt(options=json.dumps({"url": "mqtt://b", "topic": "t", "password": PW})))
    assert ok.status_code == 302
    dev = _device("east-door")
    data = {"csrf_token": csrf(client, f"/devices/{dev.id}/edit"), "name": "east-door"}
    data["options"] = json.dumps({"url": "mqtt://c", "topic": "t", "password": "••• set"})
    assert client.post(f"/devices/{dev.id}/edit", data=data).status_code == 302
    assert _device("east-door").options == {"url": "mqtt://c", "topic": "t", "password": PW}


def test_device_form_roles(client, world):
    from portal.accounts.operations import create_user

    dev, _ = world.device("gate-form-roles")
    other = create_user("other-mgr", world.PASSWORD, "manager", "Other", site=world.other_site)
    db.session.commit()
    for user in (world.guard, world.r1):
        assert login(client, user, world.PASSWORD).status_code == 302
        assert client.get("/devices/new?driver=mqtt").status_code == 403
        assert client.get(f"/devices/{dev.id}/edit").status_code == 403
        client.post("/logout", data={"csrf_token": csrf(client, "/my/passes/new" if user is world.r1 else "/devices/")})
    assert login(client, other, world.PASSWORD).status_code == 302
    assert client.get(f"/devices/{dev.id}/edit").status_code == 404
    assert client.get("/devices/new?driver=no-such").status_code == 200  # an unknown driver falls back to the simulator


def test_the_api_checks_declared_options_the_same_way(client, world):
    h = world.token(world.manager)
    body = {"name": "api-door", "kind": "door_controller", "driver": "mqtt", "options": {"url": "ftp://x", "topic": "d/1"}}
    bad = client.post("/api/v1/devices", json=body, headers=h)
    fields = bad.get_json()["error"]["fields"]
    assert bad.status_code == 400 and fields["url"]["code"] == "invalid" and _device("api-door") is None
    body["options"] = {"url": "mqtt://b:1883", "topic": "d/1", "timeout": "3", "password": PW}
    made = client.post("/api/v1/devices", json=body, headers=h)
    assert made.status_code == 201 and _device("api-door").options["timeout"] == 3.0
    assert PW not in made.get_data(as_text=True)
    patch = client.patch(
        f"/api/v1/devices/{made.get_json()['id']}", json={"options": {"url": "mqtt://b", "topic": ""}}, headers=h
    )
    assert patch.status_code == 400 and "topic" in patch.get_json()["error"]["fields"]


def test_a_name_taken_at_the_site_is_refused_on_the_form_and_nothing_is_saved(client, world):
    _manager(client, world)
    assert _add(client, "mqtt", **_mqtt()).status_code == 302
    again = _add(client, "mqtt", **_mqtt(o_topic="door/west"))
    assert again.status_code == 400 and "A device with this name already exists at this site." in again.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).where(Device.name == "east-door")) == 1
    assert _add(client, "mqtt", **_mqtt(name="west-door", o_topic="door/west")).status_code == 302
    west = _device("west-door")
    data = {"csrf_token": csrf(client, f"/devices/{west.id}/edit"), "name": "east-door", "name_en": "East"}
    resp = client.post(f"/devices/{west.id}/edit", data=data | {"o_url": "mqtt://10.0.0.9", "o_topic": "door/west"})
    assert resp.status_code == 400 and "A device with this name already exists at this site." in resp.get_data(as_text=True)
    west = _device("west-door")
    assert west.options["url"] == "mqtt://10.0.0.5:1883" and west.name_en is None
