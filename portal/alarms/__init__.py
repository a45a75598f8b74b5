"""Door alarms from devices (forced, held open, tamper, duress, fire input, power or link loss) for the desk."""


def init_app(app):
    """Load models, announce alarms to the live board after commit, register the CLI."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from portal.alarms import api, models  # noqa: F401
    from portal.alarms.commands import simulate_alarm
    from portal.alarms.feed import after_commit, before_commit, forget
    from portal.alarms.queries import ack_minutes, shift_section
    from portal.bridge.commands import devices_cli
    from portal.reports.team import HOOKS
    from portal.shifts.queries import SHIFT_SECTIONS

    HOOKS["alarm_ack_minutes"] = ack_minutes
    if shift_section not in SHIFT_SECTIONS:
        SHIFT_SECTIONS.append(shift_section)
    if "simulate-alarm" not in devices_cli.commands:
        devices_cli.add_command(simulate_alarm)
    if not event.contains(Session, "after_commit", after_commit):
        event.listen(Session, "before_commit", before_commit)
        event.listen(Session, "after_commit", after_commit)
        event.listen(Session, "after_soft_rollback", forget)
