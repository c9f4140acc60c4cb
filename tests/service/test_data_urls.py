"""Pictures in ``data:`` URLs: what the realtime canvas accepts and refuses."""

from __future__ import annotations

import base64
import textwrap

import numpy as np
import pytest

from sfumato.errors import InvalidRequest
from sfumato.service import data_urls
from tests.api.canvas import data_url, noise

LIMITS = {"max_bytes": 10**6, "max_pixels": 10**6}


def test_a_payload_broken_into_lines_gives_the_same_pixels() -> None:
    url = data_url(noise(seed=3))
    header, payload = url.split(",", 1)
    wrapped = header + ",\n" + "\r\n".join(textwrap.wrap(payload, 76)) + "\n"  # as MIME writes base64
    pictures = [data_urls.decode(u, field="imageDataUrl", **LIMITS) for u in (url, wrapped)]
    assert np.array_equal(np.asarray(pictures[0]), np.asarray(pictures[1]))


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("data:image/png;base64,iVBO*Rw0", "not valid base64"),
        ("https://example.com/a.png", "must be a base64 data URL"),
        ("data:image/png;base64," + base64.b64encode(b"not a picture").decode(), "not a PNG"),
    ],
)
def test_a_bad_data_url_is_refused_saying_why(url: str, fragment: str) -> None:
    with pytest.raises(InvalidRequest, match=fragment):
        data_urls.decode(url, field="imageDataUrl", **LIMITS)
