"""The monthly cost of what a spec declares, at its fewest and at its most replicas.

Compute dominates the bill of a model endpoint, so the estimate counts instances by type
and replica range (on-demand and spot apart, A/B variants included) and adds the fixed
monthly items of the target (a cluster fee, a registry). Request-priced services (API
gateways, logs) depend on traffic and are named in the notes rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from inferstack.components.cost.table import PriceTable, TargetPrices, load_price_table
from inferstack.components.spec.models import DeploymentSpec
from inferstack.components.targets import get_target, profile


@dataclass(frozen=True)
class CostLine:
    """One priced item: an hourly price times a count range, or a fixed monthly charge."""

    item: str
    count_min: int
    count_max: int
    hourly: float | None
    """Price per hour of one unit; None when the table has no price for it."""
    monthly_fixed: float = 0.0
    hours_per_month: float = 730.0

    @property
    def monthly_min(self) -> float | None:
        """Monthly cost at the fewest replicas; None when unpriced."""
        return self._monthly(self.count_min)

    @property
    def monthly_max(self) -> float | None:
        """Monthly cost at the most replicas; None when unpriced."""
        return self._monthly(self.count_max)

    def _monthly(self, count: int) -> float | None:
        if self.hourly is None:
            return None
        return round(self.hourly * count * self.hours_per_month + self.monthly_fixed, 2)


@dataclass(frozen=True)
class CostEstimate:
    """The lines of one stack's estimate, their totals and what they leave out."""

    target: str
    currency: str
    as_of: str
    price_region: str | None
    lines: tuple[CostLine, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def unpriced(self) -> tuple[str, ...]:
        """Items the table has no price for (their cost is not in the totals)."""
        return tuple(line.item for line in self.lines if line.hourly is None)

    @property
    def monthly_min(self) -> float:
        """Total at the fewest replicas, priced lines only."""
        return round(sum(line.monthly_min or 0.0 for line in self.lines), 2)

    @property
    def monthly_max(self) -> float:
        """Total at the most replicas, priced lines only."""
        return round(sum(line.monthly_max or 0.0 for line in self.lines), 2)

    def summary(self) -> str:
        """One line: the range, the price date and what is not counted."""
        text = (
            f"estimated monthly cost: {_money(self.monthly_min)} to {_money(self.monthly_max)} "
            f"{self.currency} (list prices of {self.as_of}"
            + (f", {self.price_region}" if self.price_region else "")
            + ")"
        )
        if self.unpriced:
            text += f"; not priced: {', '.join(self.unpriced)}"
        return text

    def as_json(self) -> dict[str, object]:
        """A JSON-ready form (CI comments, dashboards)."""
        return {
            "target": self.target,
            "currency": self.currency,
            "as_of": self.as_of,
            "price_region": self.price_region,
            "monthly_min": self.monthly_min,
            "monthly_max": self.monthly_max,
            "unpriced": list(self.unpriced),
            "lines": [
                {
                    "item": line.item,
                    "count_min": line.count_min,
                    "count_max": line.count_max,
                    "hourly": line.hourly,
                    "monthly_min": line.monthly_min,
                    "monthly_max": line.monthly_max,
                }
                for line in self.lines
            ],
            "notes": list(self.notes),
        }


def _money(value: float) -> str:
    return f"{value:,.2f}"


def estimate_cost(spec: DeploymentSpec, table: PriceTable | None = None) -> CostEstimate:
    """The monthly cost range of `spec` from `table` (default: the shipped one)."""
    table = table or load_price_table()
    prices = table.for_target(spec.target)
    notes: list[str] = []
    if prices is None:
        return CostEstimate(
            spec.target,
            table.currency,
            table.as_of,
            None,
            (),
            (f"the price table has no prices for target {spec.target!r}",),
        )
    region = spec.resolved_region
    if prices.region and region and region != prices.region:
        notes.append(
            f"prices are those of {prices.region}; the stack deploys to {region}, "
            "where they may differ"
        )
    hours = table.hours_per_month
    lines = [*_replica_lines(spec, prices, hours, notes)]
    lines += [
        CostLine(item.item, 1, 1, 0.0, monthly_fixed=item.usd, hours_per_month=hours)
        for item in prices.fixed_monthly
    ]
    if spec.target != "local":
        notes.append("request-priced services (gateway, logs, data transfer) are not counted")
    return CostEstimate(
        spec.target, table.currency, table.as_of, prices.region, tuple(lines), tuple(notes)
    )


def _replica_lines(
    spec: DeploymentSpec, prices: TargetPrices, hours: float, notes: list[str]
) -> list[CostLine]:
    """Instances of the main model (on-demand and spot apart) and of each A/B variant."""
    instance_type = get_target(spec.target).instance_type_for(spec)
    low, high = spec.scaling.min_replicas, spec.scaling.max_replicas
    spot = spec.compute.spot and profile(spec.target).spot
    base = spec.compute.on_demand_base if spot else high
    groups = [
        (f"{instance_type} on-demand", min(low, base), min(high, base), False),
        (f"{instance_type} spot", max(low - base, 0), max(high - base, 0), True),
    ]
    for variant in spec.rollout.variants:
        groups.append(
            (f"{instance_type} variant {variant.name}", variant.replicas, variant.replicas, False)
        )
    lines = []
    for item, count_min, count_max, on_spot in groups:
        if count_max == 0:
            continue
        hourly = _hourly(spec, prices, instance_type, on_spot, notes)
        lines.append(CostLine(item, count_min, count_max, hourly, hours_per_month=hours))
    return lines


def _hourly(
    spec: DeploymentSpec, prices: TargetPrices, instance_type: str, spot: bool, notes: list[str]
) -> float | None:
    """One replica's hourly price: its machine, plus its GPUs where they are billed apart."""
    machine = prices.instances.get(instance_type)
    if machine is None:
        return None
    hourly = _pick(machine.on_demand, machine.spot, spot, instance_type, notes)
    if not machine.gpus_included and spec.compute.accelerator != "none":
        gpu = prices.accelerators.get(spec.compute.accelerator)
        if gpu is None:
            return None
        hourly += spec.compute.gpu_count * _pick(
            gpu.on_demand, gpu.spot, spot, spec.compute.accelerator, notes
        )
    return round(hourly, 6)


def _pick(
    on_demand: float, spot_price: float | None, spot: bool, what: str, notes: list[str]
) -> float:
    if not spot:
        return on_demand
    if spot_price is None:
        note = f"no spot price for {what} in the table: counted at the on-demand price"
        if note not in notes:
            notes.append(note)
        return on_demand
    return spot_price
