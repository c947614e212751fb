"""Logs are JSON lines and never carry a secret."""

from __future__ import annotations

import json
import logging

import pytest

from edgeloop_runtime.logs import JsonFormatter, get_logger, redact

SECRETS = [
    pytest.param(
        "HostName=h;DeviceId=d;ModuleId=m;SharedAccessKey=c2VjcmV0a2V5MTIzNDU2Nzg=",
        "c2VjcmV0",
        id="conn-string",
    ),
    pytest.param("SharedAccessSignature sr=x&sig=abc%2Bdef&se=1", "abc%2Bdef", id="sas-token"),
    pytest.param("AccountName=a;AccountKey=Eby8vdM02xNOcqFl==;", "Eby8vdM02", id="storage-key"),
    pytest.param('{"password": "hunter2"}', "hunter2", id="json-password"),
]


@pytest.mark.parametrize(("text", "secret"), SECRETS)
def test_redact_removes_secrets(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_event_fields_are_json_and_secret_keys_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    formatter = JsonFormatter("m1")
    with caplog.at_level(logging.INFO):
        get_logger("edgeloop.test").info(
            "connected", host="h1", password="hunter2", conn="SharedAccessKey=abcdef=="
        )
    line = json.loads(formatter.format(caplog.records[-1]))
    assert line["event"] == "connected"
    assert line["module"] == "m1"
    assert line["host"] == "h1"
    assert "hunter2" not in json.dumps(line)
    assert "abcdef" not in json.dumps(line)
