"""The REST contract on a real server on loopback: /predict takes multipart field `image` (or a raw body)
and answers what the engine detects; /health; errors with their reasons. Unchanged by the fast paths."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from inference_helpers import REPO, TESTSET

from edgeloop_runtime.metrics import Metrics
from inference.http.rest import make_app
from inference.service import InferenceService
from inference.settings import Settings
from inference.telemetry_metrics import InferenceMetrics


def _multipart(field: str, data: bytes, boundary: str) -> bytes:
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="f.jpg"\r\n'
    return (head + "Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()


async def _request(url: str, method: str, body: bytes = b"", ctype: str | None = None) -> tuple[int, Any]:
    """One HTTP/1.1 request on a fresh connection: (status, JSON body)."""
    parts = url.split("/", 3)
    host, port = parts[2].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    head = f"{method} /{parts[3]} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n"
    head += f"Content-Type: {ctype}\r\n" if ctype is not None else ""
    writer.write((head + "Connection: close\r\n\r\n").encode() + body)
    raw = await reader.read()  # the server closes the connection after its answer
    writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, InferenceService]]:
    svc = InferenceService(
        Settings(model_path=str(REPO), providers=["cpu"], rest_port=-1),
        InferenceMetrics(Metrics("inference", "test")),
    )
    await svc.load_all(svc.settings)
    runner = web.AppRunner(make_app(svc), access_log=None)
    await runner.setup()
    host = f"127.0.0.{random.randint(2, 250)}"
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://{host}:{port}", svc
    await runner.cleanup()
    await svc.manager.close()


async def test_predict_answers_what_the_engine_detects_for_each_way_of_sending_the_image(
    server: tuple[str, InferenceService],
) -> None:
    url, svc = server
    labels = json.loads((TESTSET / "labels.json").read_text())["images"]
    items = [i for i in labels if i["objects"]][:3]
    for item in items:
        data = (TESTSET / item["file"]).read_bytes()
        _, direct = await svc.detect(data, "test")
        expected = {"detections": direct.detections, "total": len(direct.detections)}
        assert expected["total"] >= 1
        b = uuid.uuid4().hex
        sent = [
            (_multipart("image", data, b), f"multipart/form-data; boundary={b}"),
            (_multipart("image", data, b), f'Multipart/Form-Data; boundary="{b}"'),  # case, quoted
            (data, "image/jpeg"),  # a raw body is the image itself
            (data, None),
        ]
        for body, ctype in sent:
            status, answer = await _request(url + "/predict", "POST", body, ctype)
            assert (status, answer) == (200, json.loads(json.dumps(expected))), ctype


async def test_predict_errors_keep_their_status_and_reason(server: tuple[str, InferenceService]) -> None:
    url, _ = server
    b = uuid.uuid4().hex
    jpeg = (TESTSET / sorted(p.name for p in TESTSET.glob("*.jpg"))[0]).read_bytes()
    cases = [
        (_multipart("other", jpeg, b), f"multipart/form-data; boundary={b}", 400, "no_image"),
        (_multipart("image", jpeg, b), "multipart/form-data", 400, "bad_request"),  # no boundary
        (b"no boundary in here", f"multipart/form-data; boundary={b}", 400, "bad_request"),
        (
            _multipart("image", b"\xff\xd8 not a jpeg", b),
            f"multipart/form-data; boundary={b}",
            400,
            "corrupt_image",
        ),
    ]
    for body, ctype, want_status, want_reason in cases:
        status, answer = await _request(url + "/predict", "POST", body, ctype)
        assert (status, answer["reason"]) == (want_status, want_reason), ctype
        assert answer["error"]


async def test_health_names_the_model_and_its_provider(server: tuple[str, InferenceService]) -> None:
    url, _ = server
    status, body = await _request(url + "/health", "GET")
    assert status == 200 and body["status"] == "healthy"
    assert body["provider"] == "CPUExecutionProvider"
    assert body["model"] == {"name": "defect_detector", "version": "1"}
