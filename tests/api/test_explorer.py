"""/docs and /redoc load everything from sfumato itself; the OpenAPI document they render
describes every route's request, errors and key."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from sfumato.api.explorer import assets_dir
from sfumato.app import create_app
from sfumato.config import Settings
from sfumato.store.migrate import upgrade

# Every URL an explorer page names: attributes and the spec URL in its inline script.
_URLS = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home = tmp_path_factory.mktemp("explorer")
    url = f"sqlite:///{home / 'db.sqlite'}"
    upgrade(url)
    settings = Settings(home=home, database_url=url, device="cpu")
    with TestClient(create_app(settings, with_worker=False)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def _urls(html: str) -> list[str]:
    return [first or second for first, second in _URLS.findall(html)]


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png"}),
    ],
)
def test_explorer_pages_name_only_same_origin_assets_and_they_are_served(
    client: TestClient, page: str, assets: set[str]
) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    html = response.text
    assert "cdn.jsdelivr.net" not in html and "fonts.googleapis.com" not in html
    urls = _urls(html)
    assert "/openapi.json" in urls
    served = set()
    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{page} loads {url} from another origin"
        assert url.startswith("/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        name = Path(parts.path).name
        if name in assets:
            # the very bytes of the packaged distribution, not a stub
            assert asset.content == (assets_dir() / name).read_bytes()
            assert len(asset.content) > 1000
            served.add(name)
    assert served == assets


def test_explorer_assets_have_their_content_types(client: TestClient) -> None:
    assert (
        client.get("/docs-assets/swagger-ui-bundle.js")
        .headers["content-type"]
        .startswith(("text/javascript", "application/javascript"))
    )
    assert client.get("/docs-assets/swagger-ui.css").headers["content-type"].startswith("text/css")
    assert client.get("/docs-assets/no-such-file.js").status_code == 404


def test_every_body_taking_route_documents_its_request_body(document: dict[str, Any]) -> None:
    # Operations that take no body on the wire (an id in the path is all they need).
    bodiless = {
        ("post", "/api/rest/v1/prompt/random"),
        ("post", "/api/rest/v1/generations/{generation_id}/replay"),
        ("post", "/api/rest/v1/webhooks/deliveries/{delivery_id}/resend"),
    }
    missing = [
        (method, path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in ("post", "put", "patch")
        and (method, path) not in bodiless
        and "requestBody" not in operation
    ]
    assert missing == []


def test_every_route_documents_its_answer_its_errors_and_the_key(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    for path, operations in document["paths"].items():
        envelope = "OpenAIError" if path.startswith("/v1/") else "LeonardoError"
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            responses = operation["responses"]
            assert "200" in responses and "application/json" in responses["200"]["content"], where
            assert "422" not in responses, where  # validation failures are 400s in the surface's shape
            for status in ("400", "401", "404", "429"):
                schema = responses[status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": f"#/components/schemas/{envelope}"}, where
            assert operation["security"] == [{"bearerAuth": []}], where
            assert not any(p["name"].lower() == "authorization" for p in operation.get("parameters", [])), (
                where
            )


def test_openai_multipart_routes_describe_their_form(document: dict[str, Any]) -> None:
    edit = document["paths"]["/v1/images/edits"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert edit["schema"]["properties"]["image"] == {
        **edit["schema"]["properties"]["image"],
        "format": "binary",
    }
    assert {"mask", "prompt", "strength", "n", "size"} <= set(edit["schema"]["properties"])
    variation = document["paths"]["/v1/images/variations"]["post"]["requestBody"]["content"]
    assert "image" in variation["multipart/form-data"]["schema"]["required"]


def test_a_documented_error_shape_is_what_the_route_answers(
    client: TestClient, document: dict[str, Any]
) -> None:
    answer = client.post(
        "/api/rest/v1/generations", json={"prompt": "x"}, headers={"authorization": "Bearer nope"}
    )
    schema = document["components"]["schemas"]["LeonardoError"]
    assert answer.status_code == 401
    assert set(answer.json()) == set(schema["properties"]) == set(schema["required"])


def test_answers_carry_an_example_recorded_from_a_run_and_its_schema(document: dict[str, Any]) -> None:
    created = document["paths"]["/api/rest/v1/generations"]["post"]["responses"]["200"]["content"]
    example = created["application/json"]["example"]
    assert set(example["sdGenerationJob"]) >= {"generationId", "apiCreditCost"}
    schema = created["application/json"]["schema"]
    assert schema["properties"]["sdGenerationJob"]["properties"]["apiCreditCost"] == {"type": "integer"}
    fetched = document["paths"]["/api/rest/v1/generations/{generation_id}"]["get"]["responses"]["200"]
    assert fetched["content"]["application/json"]["example"]["generations_by_pk"]["status"] == "COMPLETE"
