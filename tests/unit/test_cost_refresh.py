"""Refreshing the price table: the real clients against local servers that answer like the
providers' price APIs (Azure's Retail Prices API, AWS's Price List Query API)."""

from __future__ import annotations

import datetime
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from inferstack.components.cost.refresh import refresh_aws, refresh_azure
from inferstack.components.cost.table import load_price_table

Handler = Callable[[str, dict[str, str], bytes], tuple[int, dict[str, Any]]]


@pytest.fixture
def price_api() -> Iterator[Callable[[Handler], str]]:
    """Starts a JSON server on 127.0.0.1 answering with `handler`; gives its base URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(handler: Handler) -> str:
        class Answer(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, payload = handler(self.path, dict(self.headers), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def azure_item(sku: str, sku_name: str, price: float, product: str = "NCasT4_v3 Series") -> dict:
    return {
        "armSkuName": sku,
        "skuName": sku_name,
        "productName": f"Virtual Machines {product}",
        "retailPrice": price,
        "unitOfMeasure": "1 Hour",
    }


def test_azure_refresh_reads_linux_and_spot_prices_across_pages(price_api: Any) -> None:
    queries: list[str] = []

    def answer(path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        if "page" in query:
            spot = azure_item(query["sku"][0], "NC4as T4 v3 Spot", 0.2)
            return 200, {"Items": [spot], "NextPageLink": None}
        queries.append(query["$filter"][0])
        sku = query["$filter"][0].split("armSkuName eq '")[1].split("'")[0]
        items = [
            azure_item(sku, "NC4as T4 v3", 0.5),
            azure_item(sku, "NC4as T4 v3", 0.9, product="NCasT4_v3 Series Windows"),
            azure_item(sku, "NC4as T4 v3 Low Priority", 0.1),
        ]
        return 200, {"Items": items, "NextPageLink": f"{base}/?page=2&sku={sku}"}

    base = price_api(answer)
    old = load_price_table().model_copy(update={"as_of": "2000-01-01"})
    table, report = refresh_azure(old, base_url=base + "/")
    prices = table.targets["azure"].instances
    assert {(p.on_demand, p.spot) for p in prices.values()} == {(0.5, 0.2)}
    assert len(queries) == len(prices)
    for query in queries:
        assert "armRegionName eq 'eastus'" in query
        assert "priceType eq 'Consumption'" in query
    assert table.as_of == datetime.datetime.now(datetime.UTC).date().isoformat()
    assert any("Standard_NC4as_T4_v3: 0.526 -> 0.5" in line for line in report)


def test_azure_refresh_keeps_a_price_the_api_does_not_know(price_api: Any) -> None:
    base = price_api(lambda path, headers, body: (200, {"Items": [], "NextPageLink": None}))
    before = load_price_table()
    table, report = refresh_azure(before, base_url=base + "/")
    assert table == before
    assert all("no price found; kept" in line for line in report)


def test_aws_refresh_asks_the_price_list_api_per_type(price_api: Any) -> None:
    asked: list[tuple[str, dict[str, str]]] = []

    def answer(path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        request = json.loads(body)
        assert headers["X-Amz-Target"] == "AWSPriceListService.GetProducts"
        filters = {f["Field"]: f["Value"] for f in request["Filters"]}
        asked.append((request["ServiceCode"], filters))
        name = filters.get("instanceName") or filters["instanceType"]
        product = {
            "product": {"attributes": {"instanceType": name}},
            "terms": {
                "OnDemand": {
                    "T1": {"priceDimensions": {"D1": {"pricePerUnit": {"USD": "1.2500000000"}}}}
                }
            },
        }
        return 200, {"PriceList": [json.dumps(product)], "FormatVersion": "aws_v1"}

    client = boto3.client(
        "pricing",
        region_name="us-east-1",
        endpoint_url=price_api(answer),
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    before = load_price_table()
    table, _ = refresh_aws(before, client)
    aws = table.targets["aws"].instances
    assert {p.on_demand for p in aws.values()} == {1.25}
    assert aws["g4dn.xlarge"].spot == before.targets["aws"].instances["g4dn.xlarge"].spot
    sagemaker = dict(asked)["AmazonSageMaker"]
    assert sagemaker["component"] == "Hosting"
    ec2 = next(f for service, f in asked if service == "AmazonEC2")
    assert ec2["operatingSystem"] == "Linux"
    assert ec2["regionCode"] == "us-east-1"
