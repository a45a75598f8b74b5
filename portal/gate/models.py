"""The gate's own table: the change counter behind the per-worker decision cache on SQLite."""

from portal.extensions import db
from portal.gate import triggers

gate_cache_epoch = triggers.epoch_table(db.metadata)
triggers.install(db.metadata)
