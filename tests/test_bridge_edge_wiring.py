"""The bridge worker gives edge-deciding readers (OSDP) a local decider, so a scan is answered."""

import pytest
from bridge_support import add_device, fresh_simulators, run_bridge  # noqa: F401
from edge_support import qr_now

from access_bridge.drivers.base import REGISTRY, Capability, Driver, register
from portal.devices.drivers import SPECS


class EdgeReader(Driver):
    """A reader that only reports scans and waits for our answer, as OSDP readers do."""

    slug = "test-edge-reader"
    capabilities = Capability.EDGE_DECISION
    instances = []

    def __init__(self, device_id, options):
        super().__init__(device_id, options)
        self.on_credential = None
        EdgeReader.instances.append(self)

    def upsert(self, cred):
        pass

    def revoke(self, key):
        pass

    def health(self):
        return True


@pytest.fixture
def edge_reader():
    """The fake reader registered for one test only, so other tests see just the real drivers."""
    register(EdgeReader)
    yield EdgeReader
    REGISTRY.pop(EdgeReader.slug, None)
    SPECS.pop(EdgeReader.slug, None)


@pytest.mark.usefixtures("edge_reader")
def test_worker_attaches_a_decider_to_edge_readers(app, world, tmp_path):
    app.config["EDGE_STORE_PATH"] = str(tmp_path / "edge.db")
    device = add_device(world, "osdp-gate", driver="test-edge-reader", gates=[world.gate.id])
    p = world.make_pass()
    revoked = world.make_pass()
    client = app.test_client()
    client.post(f"/api/v1/passes/{revoked.id}/revoke", headers=world.token(world.r1))
    EdgeReader.instances.clear()
    worker = run_bridge(app)
    reader = next(r for r in EdgeReader.instances if r.device_id == device.id)
    assert reader.on_credential is not None
    worker.edge.main.sync()
    grant, reason = reader.on_credential("card", qr_now(p).encode(), 0)[:2]
    assert (grant, reason) == (True, "ok")
    grant, reason = reader.on_credential("card", qr_now(revoked).encode(), 0)[:2]
    assert (grant, reason) == (False, "revoked")
