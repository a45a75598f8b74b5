"""`flask --app wsgi devices simulate-alarm <device id> <kind>`: a simulated device raises (or clears) an alarm."""

import json

import click

from portal.alarms.models import KINDS, SELF_CLEARING
from portal.extensions import db


@click.command("simulate-alarm")
@click.argument("device_id", type=int)
@click.argument("kind", type=click.Choice(KINDS))
@click.option("--door", type=int, default=None, help="The door number the device reports.")
@click.option("--clear", is_flag=True, help=f"The condition ended ({', '.join(SELF_CLEARING)} only): the alarm clears.")
def simulate_alarm(device_id, kind, door, clear):
    """Raise an alarm as a simulated device would report it (demos and tests drive the desk with it)."""
    from portal.alarms import operations
    from portal.devices.models import Device

    device = db.session.get(Device, device_id)
    if device is None or device.status == "removed":
        raise click.ClickException(f"no device {device_id}")
    if device.driver != "simulator":
        raise click.ClickException(f"device {device_id} is a {device.driver} device: it raises its own alarms")
    if clear:
        alarm = operations.clear_alarm(device, kind, door)
        if alarm is None:
            raise click.ClickException(f"no standing {kind} alarm on device {device_id} to clear")
    else:
        alarm = operations.raise_alarm(device, kind, door=door, details={"source": "simulator"})
    db.session.commit()
    click.echo(json.dumps({"id": alarm.id, "kind": alarm.kind, "device_id": alarm.device_id, "state": alarm.state}))
