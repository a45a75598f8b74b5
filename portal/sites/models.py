"""Communities, buildings, units and gates."""

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.i18n import local_name
from portal.core.models import Timestamped
from portal.extensions import db


class Site(Timestamped, db.Model):
    """A residential community; the unit of data separation."""

    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    name_en: Mapped[str | None] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai", nullable=False)
    address: Mapped[str | None] = mapped_column(String(255))
    # Shown on the visitor's pass page: where to go once inside.
    directions: Mapped[str | None] = mapped_column(Text)
    directions_en: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    buildings = relationship("Building", back_populates="site", order_by="Building.code")
    gates = relationship("Gate", back_populates="site", order_by="Gate.id")


class Building(Timestamped, db.Model):
    """A building with its floor range (for elevator rights)."""

    __tablename__ = "buildings"
    __table_args__ = (UniqueConstraint("site_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False, index=True)
    code: Mapped[str] = mapped_column(String(20), nullable=False)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    name_en: Mapped[str | None] = mapped_column(String(80))  # shown on English pages when set
    lowest_floor: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    highest_floor: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    site = relationship("Site", back_populates="buildings")
    units = relationship("Unit", back_populates="building", order_by="Unit.number")

    def floor_range(self):
        """Floors reachable in this building, excluding 0."""
        return [f for f in range(self.lowest_floor, self.highest_floor + 1) if f != 0]


class Unit(Timestamped, db.Model):
    """A flat; residents are linked to it through residencies."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("building_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"), nullable=False, index=True)
    number: Mapped[str] = mapped_column(String(20), nullable=False)
    floor: Mapped[int] = mapped_column(Integer, nullable=False)
    building = relationship("Building", back_populates="units")

    @property
    def site_id(self):
        return self.building.site_id

    @property
    def label(self):
        """「A栋 1201」; on an English page (or English SMS) the building's English name when it has one."""
        return f"{local_name(self.building)} {self.number}"


class Gate(Timestamped, db.Model):
    """An entrance where passes are checked (pedestrian gate, barrier, lobby door)."""

    __tablename__ = "gates"
    __table_args__ = (UniqueConstraint("site_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False, index=True)
    code: Mapped[str] = mapped_column(String(20), nullable=False)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    name_en: Mapped[str | None] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16), default="pedestrian", nullable=False)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"))
    site = relationship("Site", back_populates="gates")
