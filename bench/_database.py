"""What the bridge benchmarks share: a nearest-rank percentile, a private database to seed, MQTT doors."""

import os
import uuid


def pct(values, q):
    """The q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def database(tmp):
    """(URL, engine options, dialect, cleanup): PostgreSQL (DATABASE_URL) in a private schema, or a SQLite file."""
    from sqlalchemy import create_engine, text

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return f"sqlite:///{tmp / 'bench.db'}", {}, "sqlite", lambda: None
    url = "postgresql+psycopg://" + url.split("://", 1)[1]
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop():
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}", {"pool_size": 5}, "postgresql", drop


def mqtt_doors(site_id, url, prefix, count, building_of=lambda i: None):
    """count esp-rfid door controllers on topics prefix/0 .. prefix/count-1 (door i in building building_of(i))."""
    from portal.devices.models import Device

    return [
        Device(
            site_id=site_id,
            name=f"door-{i}",
            kind="door_controller",
            driver="mqtt",
            building_id=building_of(i),
            options={"url": url, "topic": f"{prefix}/{i}", "timeout": 5},
        )
        for i in range(count)
    ]
