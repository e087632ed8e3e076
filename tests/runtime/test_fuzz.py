"""Fuzzing every inference route with hypothesis: no input yields a 5xx."""

from __future__ import annotations

import httpx
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.runtime.server import RuntimeServer

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=30,
)
ROW = st.lists(SCALARS, min_size=18, max_size=22)
ROWS = st.lists(
    ROW | st.dictionaries(st.sampled_from(["f0", "f1", "f19", "x"]), SCALARS), max_size=4
)
TENSOR = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["input-0", "f0", "x"]) | SCALARS,
        "shape": st.lists(st.integers(min_value=-1, max_value=40), max_size=3) | SCALARS,
        "datatype": st.sampled_from(["FP64", "FP32", "INT64", "BOOL", "BYTES", "UINT8", "FP16"])
        | SCALARS,
        "data": st.lists(SCALARS, max_size=42)
        | st.lists(st.lists(SCALARS, max_size=21), max_size=2),
    }
)
BODIES = st.one_of(
    JSON,
    st.fixed_dictionaries({"instances": ROWS | JSON}),
    st.fixed_dictionaries({"inputs": st.lists(TENSOR, max_size=3) | JSON}),
    st.fixed_dictionaries({"data": ROWS}),
    st.fixed_dictionaries(
        {"input_data": st.fixed_dictionaries({"columns": JSON, "data": ROWS | JSON})}
    ),
)
ROUTES = st.sampled_from(["/predict", "/invocations", "/score", "/v2/models/logreg-20f/infer"])
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


def _encode(body: object) -> bytes:
    try:
        return orjson.dumps(body)
    except (TypeError, orjson.JSONEncodeError):  # integers beyond 64 bits: send as text
        return repr(body).encode()


@FUZZ
@given(route=ROUTES, body=BODIES)
def test_json_bodies_never_5xx(sklearn_server: RuntimeServer, route: str, body: object) -> None:
    response = httpx.post(
        sklearn_server.url + route,
        content=_encode(body),
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert response.status_code < 500, (route, body, response.text)
    if response.status_code >= 400:
        assert response.json()["error"]["message"]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    text=st.text(max_size=200)
    | st.lists(st.lists(SCALARS.map(str), max_size=21), max_size=3).map(
        lambda rows: "\n".join(",".join(r) for r in rows)
    )
)
def test_csv_bodies_never_5xx(sklearn_server: RuntimeServer, text: str) -> None:
    response = httpx.post(
        sklearn_server.url + "/invocations",
        content=text.encode("utf-8", "surrogatepass"),
        headers={"content-type": "text/csv"},
        timeout=10,
    )
    assert response.status_code < 500, (text, response.text)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    path=st.text(alphabet="/abcv2modelsinfer{}-.%", max_size=30),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
)
def test_any_path_and_method_never_5xx(
    sklearn_server: RuntimeServer, path: str, method: str
) -> None:
    response = httpx.request(method, sklearn_server.url + "/" + path.lstrip("/"), timeout=10)
    assert response.status_code < 500, (method, path, response.text)
