"""Refresh the price table from the providers' public price APIs (needs the internet).

    python -m inferstack.components.cost.refresh [--table PATH] [--only aws,azure]

- Azure: the Retail Prices API (https://prices.azure.com/api/retail/prices, no account),
  pay-as-you-go Linux prices and Spot prices of each VM size in the table's region.
- AWS: the Price List Query API (boto3 `pricing`, needs credentials): SageMaker hosting
  prices of the ml.* types and EC2 Linux on-demand prices of the others. EC2 spot prices
  move hourly and are not in the price list; they are left as they are.
- GCP: the Cloud Billing Catalog prices machines per vCPU and GB, not per type, so its
  rows are updated by hand from the pricing pages named in the table.

Only types already in the table are refreshed; `as_of` becomes today's date when any
price changed. A type the API does not answer for keeps its price and is reported.
"""

from __future__ import annotations

import argparse
import datetime
import json
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from inferstack.components.cost.table import PRICES_FILE, InstancePrice, PriceTable, dump_table

AZURE_RETAIL_URL = "https://prices.azure.com/api/retail/prices"
_TIMEOUT_S = 30


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:  # noqa: S310 (https URL built here)
        data = json.load(response)
    if not isinstance(data, dict):
        raise ValueError(f"{url}: expected a JSON object")
    return data


def azure_prices(
    region: str, sku: str, base_url: str = AZURE_RETAIL_URL
) -> tuple[float | None, float | None]:
    """(pay-as-you-go, spot) hourly Linux prices of VM size `sku` in `region`."""
    query = (
        f"serviceName eq 'Virtual Machines' and armRegionName eq '{region}' "
        f"and armSkuName eq '{sku}' and priceType eq 'Consumption'"
    )
    url: str | None = f"{base_url}?{urllib.parse.urlencode({'$filter': query})}"
    on_demand = spot = None
    while url:
        page = _get_json(url)
        for item in page.get("Items", []):
            if "Windows" in item.get("productName", "") or item.get("unitOfMeasure") != "1 Hour":
                continue
            name = item.get("skuName", "")
            if name.endswith("Low Priority"):
                continue
            price = float(item["retailPrice"])
            if name.endswith("Spot"):
                spot = price
            else:
                on_demand = price
        url = page.get("NextPageLink")
    return on_demand, spot


def aws_price(client: Any, region: str, instance_type: str) -> float | None:
    """The on-demand hourly price of `instance_type` in `region` from the Price List API:
    SageMaker hosting for ml.* types, EC2 Linux shared tenancy for the rest."""
    if instance_type.startswith("ml."):
        service, filters = (
            "AmazonSageMaker",
            {"regionCode": region, "instanceName": instance_type, "component": "Hosting"},
        )
    else:
        service, filters = (
            "AmazonEC2",
            {
                "regionCode": region,
                "instanceType": instance_type,
                "operatingSystem": "Linux",
                "tenancy": "Shared",
                "preInstalledSw": "NA",
                "capacitystatus": "Used",
            },
        )
    response = client.get_products(
        ServiceCode=service,
        Filters=[{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in filters.items()],
        MaxResults=10,
    )
    prices = sorted(set(_on_demand_usd(response.get("PriceList", []))))
    return prices[0] if len(prices) == 1 else None


def _on_demand_usd(price_list: list[str]) -> Iterator[float]:
    for entry in price_list:
        product = json.loads(entry) if isinstance(entry, str) else entry
        for term in product.get("terms", {}).get("OnDemand", {}).values():
            for dimension in term.get("priceDimensions", {}).values():
                usd = dimension.get("pricePerUnit", {}).get("USD")
                if usd is not None and float(usd) > 0:
                    yield float(usd)


Report = list[str]


def refresh_azure(table: PriceTable, base_url: str = AZURE_RETAIL_URL) -> tuple[PriceTable, Report]:
    """`table` with Azure's VM prices re-read; the report names what changed or failed."""
    prices = table.targets["azure"]

    def lookup(sku: str, old: InstancePrice) -> InstancePrice | None:
        on_demand, spot = azure_prices(prices.region or "eastus", sku, base_url)
        if on_demand is None:
            return None
        return old.model_copy(update={"on_demand": on_demand, "spot": spot})

    return _refresh(table, "azure", lookup)


def refresh_aws(table: PriceTable, client: Any) -> tuple[PriceTable, Report]:
    """`table` with AWS's on-demand prices re-read (spot prices kept)."""
    region = table.targets["aws"].region or "us-east-1"

    def lookup(instance_type: str, old: InstancePrice) -> InstancePrice | None:
        price = aws_price(client, region, instance_type)
        return None if price is None else old.model_copy(update={"on_demand": price})

    return _refresh(table, "aws", lookup)


def _refresh(
    table: PriceTable,
    target: str,
    lookup: Callable[[str, InstancePrice], InstancePrice | None],
) -> tuple[PriceTable, Report]:
    report: Report = []
    prices = table.targets[target]
    updated = {}
    for name, old in prices.instances.items():
        new = lookup(name, old)
        if new is None:
            report.append(f"{target} {name}: no price found; kept {old.on_demand}")
            new = old
        elif new != old:
            report.append(f"{target} {name}: {old.on_demand} -> {new.on_demand}")
        updated[name] = new
    if updated == prices.instances:
        return table, report
    targets = {**table.targets, target: prices.model_copy(update={"instances": updated})}
    as_of = datetime.datetime.now(datetime.UTC).date().isoformat()
    return table.model_copy(update={"targets": targets, "as_of": as_of}), report


def main(argv: list[str] | None = None) -> int:
    """Refresh the table in place and print what changed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", type=Path, default=Path(__file__).with_name(PRICES_FILE))
    parser.add_argument("--only", default="aws,azure", help="Comma-separated targets.")
    args = parser.parse_args(argv)
    table = PriceTable.model_validate(json.loads(args.table.read_text()))
    wanted = set(args.only.split(","))
    report: Report = []
    if "azure" in wanted:
        table, lines = refresh_azure(table)
        report += lines
    if "aws" in wanted:
        import boto3

        # The Price List API answers from us-east-1 (and a few others) for every region.
        table, lines = refresh_aws(table, boto3.client("pricing", region_name="us-east-1"))
        report += lines
    args.table.write_text(dump_table(table))
    print("\n".join(report) or "no prices changed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
