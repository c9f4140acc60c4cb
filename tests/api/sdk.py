"""The official Leonardo SDK, unchanged, talking to the in-process app behind the TestClient."""

from __future__ import annotations

import httpx
from leonardo_ai_sdk import LeonardoAiSDK

from tests.api.conftest import BASE, Api


class _TestClientTransport(httpx.BaseTransport):
    """Hands the SDK's httpx requests to the TestClient (which speaks its own httpx fork)."""

    def __init__(self, api: Api) -> None:
        self.api = api

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.api.client.request(
            request.method, str(request.url), headers=dict(request.headers), content=request.read()
        )
        return httpx.Response(
            response.status_code, headers=list(response.headers.multi_items()), content=response.content
        )


def sdk_for(api: Api, key: str | None = None) -> LeonardoAiSDK:
    client = httpx.Client(transport=_TestClientTransport(api))
    return LeonardoAiSDK(bearer_auth=key or api.key, server_url=f"http://testserver{BASE}", client=client)
