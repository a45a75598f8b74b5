"""Setting up a community from the shell, and moving a resident out."""

from portal.extensions import db
from portal.passes.models import Pass


def test_set_up_a_community_and_move_a_resident_out(app):
    run = app.test_cli_runner().invoke

    def ok(*args, input=None):
        out = run(args=list(args), input=input)
        assert out.exit_code == 0, out.output
        return out.output

    ok("sites", "add", "--slug", "lakeside", "--name", "湖畔小区")
    ok("sites", "add-building", "--site", "lakeside", "--code", "1", "--name", "1号楼", "--lowest", "-2", "--highest", "30")
    ok("sites", "add-unit", "--site", "lakeside", "--building", "1", "--number", "2501", "--floor", "25")
    ok("sites", "add-gate", "--site", "lakeside", "--code", "N", "--name", "北门")
    ok(
        "residents",
        "add",
        "--login",
        "wang",
        "--name",
        "王芳",
        "--site",
        "lakeside",
        "--unit",
        "1-2501",
        input="a long enough phrase\na long enough phrase\n",
    )
    out = ok(
        "residents",
        "add",
        "--login",
        "desk1",
        "--name",
        "门岗",
        "--role",
        "guard",
        "--site",
        "lakeside",
        input="guard pass phrase\nguard pass phrase\n",
    )
    assert "TOTP secret" in out
    weak = run(args=["residents", "add", "--login", "weak", "--name", "x", "--role", "admin"], input="password\npassword\n")
    assert weak.exit_code != 0 and "too common" in weak.output

    client = app.test_client()
    token = client.post("/api/v1/auth/token", json={"login": "wang", "password": "a long enough phrase"}).get_json()["token"]
    from conftest import pass_body

    pid = client.post(
        "/api/v1/passes", json=pass_body(notify="none", floors=[25, -2]), headers={"Authorization": f"Bearer {token}"}
    ).get_json()["id"]
    assert "1 pass(es) revoked" in ok("residents", "move-out", "--login", "wang", "--site", "lakeside", "--unit", "1-2501")
    assert db.session.get(Pass, pid).status == "revoked"
    assert run(args=["residents", "move-out", "--login", "wang", "--site", "lakeside", "--unit", "1-2501"]).exit_code != 0


def test_the_shell_refuses_what_the_console_refuses(app, world):
    run = app.test_cli_runner().invoke
    dup = run(args=["sites", "add-building", "--site", "sunny", "--code", "A", "--name", "又一个A栋", "--highest", "5"])
    assert dup.exit_code != 0 and "already has a building with this code" in dup.output
    high = run(args=["sites", "add-unit", "--site", "sunny", "--building", "A", "--number", "9901", "--floor", "99"])
    assert high.exit_code != 0 and "Floors of this building go from 1 to 18." in high.output
    gate = run(args=["sites", "add-gate", "--site", "sunny", "--code", "MAIN", "--name", "又一个正门"])
    assert gate.exit_code != 0 and "already has a gate with this code" in gate.output
    assert run(args=["sites", "add-gate", "--site", "sunny", "--code", "WEST", "--name", "西门"]).exit_code == 0
