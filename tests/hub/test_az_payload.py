"""upstream.jsonl's payload is what `az iot hub monitor-events` prints (the azure-iot CLI extension's decoding)."""

from __future__ import annotations

import gzip
import json

import pytest

from edgeloop_dev.hub.az_payload import NON_DECODABLE_PAYLOAD, az_payload, prints_verbatim, unicode_text

JSON = "application/json"


@pytest.mark.parametrize(
    ("body", "content_type", "printed"),
    [
        pytest.param(b'{"a":1}', JSON, {"a": 1}, id="json-utf8-parsed"),
        pytest.param(b'{"a":1}', None, '{"a":1}', id="json-without-content-type-stays-text"),
        pytest.param(
            b'{"a":1}', "Application/JSON; charset=utf-8", {"a": 1}, id="content-type-case-insensitive"
        ),
        pytest.param(b"plain text", "text/plain", "plain text", id="text"),
        pytest.param(b"{not json", JSON, "{not json", id="invalid-json-printed-as-text"),
        pytest.param('{"a":"x"}'.encode("utf-16"), JSON, {"a": "x"}, id="utf16-with-bom-decoded"),
        # az tries utf-16 before utf-32: utf-32 text with a BOM reads as utf-16 (NULs between characters)
        pytest.param(
            '{"a":"y"}'.encode("utf-32"),
            JSON,
            '{"a":"y"}'.encode("utf-32").decode("utf-16"),
            id="utf32-read-as-utf16",
        ),
        pytest.param(b'{"a":"1\\n2"}', JSON, {"a": "12"}, id="escaped-line-breaks-stripped-as-az-does"),
        pytest.param(b"\xff\xfe\x00binary", None, NON_DECODABLE_PAYLOAD, id="no-codec-placeholder"),
        pytest.param(b"", JSON, "", id="empty-body"),
    ],
)
def test_payload_is_printed_as_az_prints_it(body: bytes, content_type: str | None, printed: object) -> None:
    assert az_payload(body, content_type) == printed


def test_a_gzip_batch_is_not_rebuilt_from_what_az_prints_and_is_kept_aside() -> None:
    raw = gzip.compress(json.dumps({"kind": "batch", "data": {"events": []}}).encode(), mtime=0)
    assert not prints_verbatim(raw)
    printed = az_payload(raw, JSON)
    assert printed == NON_DECODABLE_PAYLOAD or printed == unicode_text(
        raw
    )  # utf-16 garbage is possible, as in az
    assert prints_verbatim(b'{"a":1}')
