"""Command line: `flask --app wsgi bridge run|status` and `flask --app wsgi devices add|list|remove|resync`."""

import json
import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from portal.core.errors import Refused
from portal.extensions import db
from portal.sites.commands import cli_site

bridge_cli = AppGroup("bridge", help="The access bridge: push credentials to devices, bring events back.")
devices_cli = AppGroup("devices", help="The device registry.")


def _device(site, name):
    from portal.devices.queries import device_by_name

    device = device_by_name(site, name)
    if device is None:
        raise click.ClickException(f"no device {name!r} at site {site!r}")
    return device


def _fail(exc: Refused):
    details = [f"{name}: {f[1] % (f[2] if len(f) > 2 else {})}" for name, f in exc.fields.items()]
    raise click.ClickException("; ".join(details) or exc.message)


@bridge_cli.command("run")
@click.option("--once", is_flag=True, help="Push what is due, wait for the answers and exit.")
@click.option("--threads", default=64, show_default=True, help="Devices pushed to concurrently.")
@click.option("--max-devices", type=int, default=None, help="Claim at most this many devices (spread over workers).")
@click.option("--poll", default=1.0, show_default=True, help="Seconds between checks when no wake-up arrives.")
@click.option("--lease", default=30, show_default=True, help="Seconds a device claim lasts if this worker dies.")
@click.option(
    "--full-every", default=600.0, show_default=True, help="Seconds between full plans (changes are planned as they come)."
)
def run(once, threads, max_devices, poll, lease, full_every):
    """Run the bridge worker (Ctrl-C stops it cleanly)."""
    from access_bridge.worker import Worker

    app = current_app._get_current_object()
    worker = Worker(app, threads=threads, max_devices=max_devices, poll=poll, lease_seconds=lease, plan_every=full_every)
    if once:
        worker.run_once()
        worker.close()
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"bridge: worker {worker.owner} running (Ctrl-C to stop)")
    worker.run_forever(stop)
    click.echo("bridge: stopped")


@bridge_cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--site", default=None, help="Only this site (slug).")
def status(as_json, site):
    """Each device: online, offline, pending or failed, with credential counts."""
    from portal.devices.queries import summaries

    rows = summaries(cli_site(site).id if site else None)
    if as_json:
        click.echo(json.dumps({"devices": rows}, ensure_ascii=False))
        return
    click.echo(
        f"{'site':<10} {'device':<28} {'kind':<20} {'driver':<10} {'state':<8} {'ok':>5} {'pend':>5} {'fail':>5}  last seen"
    )
    for r in rows:
        c = r["credentials"]
        click.echo(
            f"{(r['site'] or '')[:10]:<10} {r['name'][:28]:<28} {r['kind']:<20} {r['driver']:<10} {r['sync']:<8} "
            f"{c['ok']:>5} {c['pending']:>5} {c['failed']:>5}  {r['last_seen_at'] or '-'}"
        )
        if r["last_error"]:
            click.echo(f"{'':<10} last error: {r['last_error']}")


@devices_cli.command("add")
@click.option("--site", required=True, help="Site slug.")
@click.option("--name", required=True)
@click.option("--kind", required=True, help="gate_reader | door_controller | elevator_controller | face_terminal | barrier")
@click.option("--driver", default="simulator", show_default=True)
@click.option(
    "--options", default="{}", help='Driver options as JSON; "gates", "doors", "floors", "building" narrow what it serves.'
)
@click.option("--gate", "gates", multiple=True, help="Gate code it serves (repeatable); none: the whole site.")
@click.option("--floors", default=None, help="Floors it serves, e.g. 1-18 or 3,5,7.")
@click.option("--building", default=None, help="Building code it belongs to.")
@click.option("--name-en", default=None, help="English name, shown on English pages.")
def add(site, name, kind, driver, options, gates, floors, building, name_en):
    """Register a device."""
    from portal.devices.operations import add_device

    try:
        opts = json.loads(options)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--options") from None
    if not isinstance(opts, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--options")
    if gates:
        opts["gates"] = list(gates)
    if floors:
        opts["floors"] = _floors(floors)
    if building:
        opts["building"] = building
    try:
        device = add_device(cli_site(site), name, kind, driver, opts)
        device.name_en = name_en
    except Refused as exc:
        db.session.rollback()
        _fail(exc)
    db.session.commit()
    click.echo(
        json.dumps(
            {
                "id": device.id,
                "name": device.name,
                "kind": device.kind,
                "driver": device.driver,
                "gate_ids": device.gate_ids,
                "floors": device.floors,
                "doors": device.doors,
                "building_id": device.building_id,
            },
            ensure_ascii=False,
        )
    )


def _floors(text):
    out = []
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            out.extend(range(int(lo), int(hi) + 1) if hi else [int(lo)])
    except ValueError:
        raise click.BadParameter("use numbers and ranges, e.g. 1-18 or 3,5", param_hint="--floors") from None
    return out


@devices_cli.command("list")
@click.option("--site", default=None, help="Only this site (slug).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_devices(site, as_json):
    """List devices with what they serve and their state."""
    from portal.devices.queries import summaries

    rows = summaries(cli_site(site).id if site else None)
    if as_json:
        click.echo(json.dumps({"devices": rows}, ensure_ascii=False))
        return
    click.echo(f"{'id':>4} {'site':<10} {'name':<28} {'kind':<20} {'driver':<10} {'status':<8} serves")
    for r in rows:
        serves = []
        if r["gate_ids"]:
            serves.append(f"gates {r['gate_ids']}")
        if r["floors"]:
            serves.append(f"floors {min(r['floors'])}-{max(r['floors'])}")
        if r["doors"]:
            serves.append(f"doors {r['doors']}")
        if r["building_id"]:
            serves.append(f"building #{r['building_id']}")
        click.echo(
            f"{r['id']:>4} {(r['site'] or '')[:10]:<10} {r['name'][:28]:<28} {r['kind']:<20} {r['driver']:<10} "
            f"{r['status']:<8} {', '.join(serves) or 'whole site'}"
        )


@devices_cli.command("remove")
@click.argument("name")
@click.option("--site", required=True, help="Site slug.")
def remove(name, site):
    """Wipe a device's credentials, then remove it (the bridge does the wipe)."""
    from portal.devices.operations import remove_device

    device = _device(site, name)
    remove_device(device)
    db.session.commit()
    click.echo(f"device {name!r} marked for removal: the bridge deletes every credential on it, then removes it")


@devices_cli.command("resync")
@click.argument("name")
@click.option("--site", required=True, help="Site slug.")
def resync(name, site):
    """Forget acknowledgements and push everything again; delete strays the device lists."""
    from portal.devices.operations import resync_device

    device = _device(site, name)
    resync_device(device)
    db.session.commit()
    click.echo(f"device {name!r}: everything will be pushed again")
