"""The API Gateway -> SageMaker path passes every body the runtime reads through unchanged.

Checked on the inputs the gateway declares (the moto mirror keeps neither binary media
types nor response mappings): for each content type the runtime's /invocations accepts,
no mapping template rewrites the request or the answer, no content handling converts it,
the Content-Type reaches SageMaker and comes back to the caller, and CSV is a binary media
type so API Gateway does not re-encode its bytes as UTF-8 text.
"""

from __future__ import annotations

from typing import Any

import pytest

from inferstack.components.aws.gateway_route import RESPONSES
from inferstack.runtime.http import CSV, JSON

SMALL = {"scaling": {"schedules": []}, "gateway": {"waf": False}}
# What the runtime's /invocations decodes (runtime/handlers.py: _sagemaker_rows).
RUNTIME_TYPES = (JSON.decode(), CSV.decode())


@pytest.fixture(scope="module")
def declared(deploy, spec_for) -> dict[str, list[dict[str, Any]]]:
    return deploy(spec_for(SMALL), name="mapping").mocks.inputs


def test_the_runtime_reads_json_and_csv() -> None:
    assert RUNTIME_TYPES == ("application/json", "text/csv")


def test_request_bodies_pass_through_untouched(declared) -> None:
    (integration,) = declared["aws:apigateway/integration:Integration"]
    assert integration["type"] == "AWS"
    assert not integration.get("requestTemplates")  # no template for any content type...
    assert integration["passthroughBehavior"] == "WHEN_NO_MATCH"  # ...so each passes through
    assert "contentHandling" not in integration  # neither CONVERT_TO_TEXT nor _BINARY
    params = integration["requestParameters"]
    assert params["integration.request.header.Content-Type"] == "method.request.header.Content-Type"
    assert params["integration.request.header.Accept"] == "method.request.header.Accept"


def test_csv_bytes_are_not_re_encoded(declared) -> None:
    (api,) = declared["aws:apigateway/restApi:RestApi"]
    binary = set(api["binaryMediaTypes"])
    # Text types outside binaryMediaTypes are decoded and re-encoded as UTF-8; JSON is
    # UTF-8 by definition, CSV may carry any bytes and must stay byte for byte.
    assert "text/csv" in binary
    assert "application/json" not in binary
    assert "*/*" not in binary  # the answers' JSON errors stay text


def test_answers_pass_through_with_their_content_type(declared) -> None:
    responses = declared["aws:apigateway/integrationResponse:IntegrationResponse"]
    assert sorted(r["statusCode"] for r in responses) == sorted(RESPONSES)
    for response in responses:
        assert not response.get("responseTemplates"), response["statusCode"]
        assert "contentHandling" not in response, response["statusCode"]
        mapping = response["responseParameters"]
        assert (
            mapping["method.response.header.Content-Type"]
            == "integration.response.header.Content-Type"
        )
        assert (
            mapping["method.response.header.X-Amzn-Invoked-Production-Variant"]
            == "integration.response.header.X-Amzn-Invoked-Production-Variant"
        )
    for method_response in declared["aws:apigateway/methodResponse:MethodResponse"]:
        declared_headers = method_response["responseParameters"]
        assert "method.response.header.Content-Type" in declared_headers
