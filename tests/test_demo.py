"""`flask --app wsgi demo` is idempotent: a second run prints logins, passwords and tokens that still work."""

import json

import pyotp


def _run(app):
    out = app.test_cli_runner().invoke(args=["demo"])
    assert out.exit_code == 0, out.output
    return json.loads(out.output.strip().splitlines()[-1])


def test_demo_twice_prints_working_credentials(app):
    first = _run(app)
    second = _run(app)
    assert first == second
    assert len({r["unit"] for r in second["residents"]}) >= 2
    assert {"gate", "door", "elevator", "face"} <= set(second["devices"])
    client = app.test_client()
    ok = client.post(
        "/api/v1/auth/token", json={"login": second["residents"][0]["login"], "password": second["residents"][0]["password"]}
    )
    assert ok.status_code == 200
    staff = second["guard"]
    ok = client.post(
        "/api/v1/auth/token",
        json={"login": staff["login"], "password": staff["password"], "otp": pyotp.TOTP(staff["totp_secret"]).now()},
    )
    assert ok.status_code == 200
    resp = client.post(
        "/api/v1/gate/verify",
        json={"code": "00000000000"},
        headers={"Authorization": f"Bearer {second['devices']['gate']['token']}"},
    )
    assert resp.status_code == 200 and resp.get_json()["decision"] == "deny"
