"""The shared login fixtures log each role in through the real form (staff with their TOTP code)."""

import pytest


@pytest.mark.parametrize(
    ("fixture", "login", "role"),
    [
        ("resident_client", "r1", "resident"),
        ("guard_client", "guard1", "guard"),
        ("manager_client", "manager1", "manager"),
        ("admin_client", "admin1", "admin"),
    ],
)
def test_each_role_fixture_is_a_logged_in_session(request, fixture, login, role):
    client = request.getfixturevalue(fixture)
    me = client.get("/api/v1/me")
    assert me.status_code == 200, me.get_data(as_text=True)[:300]
    assert (me.get_json()["login"], me.get_json()["role"]) == (login, role)
