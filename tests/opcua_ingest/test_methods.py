"""OPC Publisher's configuration methods as edits of the publishednodes document (payloads as 2.9 documents)."""

from __future__ import annotations

from typing import Any

import pytest

from edgeloop_runtime.errors import MethodError
from opcua_ingest import methods as api

EP = "opc.tcp://plc:50000"


def writer(writer_id: str, *ids: str, **kw: Any) -> dict[str, Any]:
    return {"EndpointUrl": EP, "DataSetWriterGroup": "Asset0", "DataSetWriterId": writer_id,
            "OpcNodes": [{"Id": i} for i in ids], **kw}  # fmt: skip


def ids(entry: dict[str, Any]) -> list[str]:
    return [n["Id"] for n in entry["OpcNodes"]]


def test_publish_nodes_adds_to_the_same_writer_and_creates_new_ones() -> None:
    doc = api.publish_nodes([], writer("Flow", "s=A"))
    doc = api.publish_nodes(doc, writer("Flow", "s=A", "s=B"))
    doc = api.publish_nodes(doc, writer("Speed", "s=C"))
    assert [(e["DataSetWriterId"], ids(e)) for e in doc] == [("Flow", ["s=A", "s=B"]), ("Speed", ["s=C"])]


def test_the_v1_credential_spellings_are_the_file_spellings() -> None:
    doc = api.publish_nodes([], writer("Flow", "s=A", OpcAuthenticationMode="UsernamePassword",
                                       UserName="op", Password="pw"))  # fmt: skip
    assert (doc[0]["OpcAuthenticationUsername"], doc[0]["OpcAuthenticationPassword"]) == ("op", "pw")
    assert "pw" not in str(api.get_configured_endpoints(doc)), "no secrets in answers"


def test_unpublish_nodes_removes_nodes_then_the_writer() -> None:
    doc = [writer("Flow", "s=A", "s=B")]
    doc = api.unpublish_nodes(doc, writer("Flow", "s=A"))
    assert ids(doc[0]) == ["s=B"]
    assert api.unpublish_nodes(doc, writer("Flow", "s=B")) == []
    assert api.unpublish_nodes(doc, writer("Flow")) == [], "no nodes: the whole writer"


@pytest.mark.parametrize(
    ("call", "status"),
    [
        pytest.param(lambda d: api.unpublish_nodes(d, writer("Nope", "s=A")), 404, id="unknown-writer"),
        pytest.param(lambda d: api.unpublish_nodes(d, writer("Flow", "s=Z")), 404, id="unknown-node"),
        pytest.param(lambda d: api.publish_nodes(d, writer("Flow")), 400, id="publish-without-nodes"),
        pytest.param(lambda d: api.publish_nodes(d, {"OpcNodes": [{"Id": "i=1"}]}), 400, id="no-endpoint"),
        pytest.param(lambda d: api.unpublish_all_nodes(d, writer("Flow", "s=A")), 400, id="all-with-nodes"),
        pytest.param(lambda d: api.unpublish_all_nodes(d, writer("Nope")), 404, id="all-unknown"),
        pytest.param(
            lambda d: api.add_or_update_endpoints(d, [writer("X", "s=1"), writer("X", "s=2")]),
            400,
            id="same-writer-twice",
        ),
        pytest.param(lambda d: api.add_or_update_endpoints(d, [writer("Nope")]), 404, id="remove-unknown"),
        pytest.param(
            lambda d: api.get_configured_nodes_on_endpoint(d, writer("Nope")), 404, id="get-unknown"
        ),
    ],
)
def test_requests_that_cannot_apply_answer_with_a_status(call: Any, status: int) -> None:
    with pytest.raises(MethodError) as err:
        call([writer("Flow", "s=A")])
    assert err.value.status == status


def test_unpublish_all_nodes_removes_one_writer_or_everything() -> None:
    doc = [writer("Flow", "s=A"), writer("Speed", "s=B")]
    assert [e["DataSetWriterId"] for e in api.unpublish_all_nodes(doc, writer("Flow"))] == ["Speed"]
    assert api.unpublish_all_nodes(doc, {}) == []
    assert api.unpublish_all_nodes(doc, None) == []


def test_add_or_update_endpoints_replaces_adds_and_removes() -> None:
    doc = [writer("Flow", "s=A"), writer("Speed", "s=B")]
    doc = api.add_or_update_endpoints(doc, [writer("Flow", "s=X"), writer("Speed"), writer("Level", "s=L")])
    assert [(e["DataSetWriterId"], ids(e)) for e in doc] == [("Flow", ["s=X"]), ("Level", ["s=L"])]


def test_get_methods_answer_camel_case_as_opc_publisher() -> None:
    doc = [writer("Flow", "s=A", DataSetPublishingInterval=5000)]
    assert api.get_configured_endpoints(doc) == {"endpoints": [{
        "endpointUrl": EP, "dataSetWriterGroup": "Asset0", "dataSetWriterId": "Flow",
        "dataSetPublishingInterval": 5000,
    }]}  # fmt: skip
    assert api.get_configured_nodes_on_endpoint(doc, writer("Flow")) == {"opcNodes": [{"id": "s=A"}]}
