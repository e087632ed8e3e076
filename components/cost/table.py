"""The price table shipped with the package (`prices.json`): dated, with its sources."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

PRICES_FILE = "prices.json"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InstancePrice(_Model):
    """Hourly prices of one instance (or machine) type."""

    on_demand: float = Field(ge=0, description="On-demand price per hour.")
    spot: float | None = Field(None, ge=0, description="Typical spot price per hour.")
    gpus_included: bool = Field(
        True, description="False where GPUs are billed apart (GCE N1 machines with a T4)."
    )


class FixedItem(_Model):
    """A monthly charge that does not scale with replicas (a cluster fee, a registry)."""

    item: str
    usd: float = Field(ge=0)


class TargetPrices(_Model):
    """One target's prices, in its default region."""

    region: str | None
    source: str
    instances: dict[str, InstancePrice]
    accelerators: dict[str, InstancePrice] = Field(default_factory=dict)
    fixed_monthly: tuple[FixedItem, ...] = ()


class PriceTable(_Model):
    """Every target's prices, the date they were read and how to refresh them."""

    currency: str
    as_of: str
    hours_per_month: float = Field(gt=0)
    note: str
    targets: dict[str, TargetPrices]

    def for_target(self, target: str) -> TargetPrices | None:
        """The prices of `target`, or None when the table has none."""
        return self.targets.get(target)


def load_price_table(path: Path | None = None) -> PriceTable:
    """The table at `path`, or the one shipped with the package."""
    if path is not None:
        return PriceTable.model_validate(json.loads(path.read_text()))
    return _shipped()


def dump_table(table: PriceTable) -> str:
    """`table` as the JSON text of `prices.json` (defaults left out)."""
    return json.dumps(table.model_dump(mode="json", exclude_defaults=True), indent=2) + "\n"


@cache
def _shipped() -> PriceTable:
    text = resources.files("inferstack.components.cost").joinpath(PRICES_FILE).read_text()
    return PriceTable.model_validate(json.loads(text))
