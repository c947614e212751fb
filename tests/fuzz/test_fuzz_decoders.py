"""Every message decoder on its own (no I/O): arbitrary and mutated input raises only the decoder's
documented error, never anything else, and a rejected message leaves the decoder's state untouched."""

from __future__ import annotations

import copy
import gzip
import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fuzz_harness import CASES
from fuzz_profiles import fuzz_settings
from fuzz_strategies import CONTRACTS, any_json, bodies, jpeg_frames, mutated
from hypothesis import given
from hypothesis import strategies as st

from anomaly_filter.rules import parse_rules
from anomaly_filter.scores import parse_score
from anomaly_filter.telemetry import parse_network_message
from edgeloop_runtime import ContractError, InputMessage, parse_envelope
from edgeloop_runtime.errors import ConfigError
from inference.errors import BadInput
from inference.models.metadata import AssetSpec, WindowSpec
from inference.sensor.windows import WindowAssembler
from inference.vision.pre import MAX_PIXELS, decode, jpeg_size
from opcua_ingest.publishednodes import parse_published_nodes
from opcua_writeback.guard import WriteGuard, check_value, parse_request
from opcua_writeback.settings import TargetSpec
from upstream_router import batching
from upstream_router.budget import Budget
from upstream_router.router import Policy, Router
from upstream_router.store import Store


def _loads(b: bytes) -> Any:
    try:
        return json.loads(b)
    except (ValueError, RecursionError):
        return b.decode("latin-1")


# ---- PubSub telemetry, as inference and anomaly_filter read it ----------------------------------
def _assembler() -> WindowAssembler:
    assets = {
        "pump": AssetSpec(fields=["Flow", "Speed", "Vibration"], index=0),
        "conveyor": AssetSpec(fields=["Load", "BeltSpeed"], index=1),
    }
    return WindowAssembler(WindowSpec(length=4, stride=2, width=3), assets, {"pump": {"Flow": 1.0}})


telemetry_docs = st.one_of(
    CONTRACTS["telemetry"], mutated(CONTRACTS["telemetry"], 4), any_json, bodies("telemetry").map(_loads)
)


@fuzz_settings(3)
@given(docs=st.lists(telemetry_docs, min_size=1, max_size=6))
def test_window_assembler_raises_only_bad_input_and_keeps_state(docs: list[Any]) -> None:
    asm = _assembler()
    for doc in docs:
        before = copy.deepcopy(
            {k: (dict(v.last), dict(v.status), len(v.rows)) for k, v in asm._state.items()}
        )
        try:
            windows = asm.feed(doc, "m1")
        except BadInput:
            after = {k: (dict(v.last), dict(v.status), len(v.rows)) for k, v in asm._state.items()}
            assert after == before, "a rejected message must leave the buffers untouched"
        else:
            for w in windows:
                assert w.values.shape == (4, 3)
                assert np.isfinite(w.values).all(), "a window must never carry NaN/Inf into the model"
        CASES["decoder inference WindowAssembler.feed"] += 1


def test_a_value_beyond_float32_never_reaches_a_window() -> None:
    """A number the model's float32 input cannot hold is refused (BadInput), not Inf in every window."""
    asm = _assembler()
    ts = "2027-01-15T08:00:{:02d}.000Z"
    for i, v in enumerate([1.0, 1e308, 10**400, -1e39, 2.0, 3.0, 4.0, 5.0]):
        payload = {f: {"Value": v, "SourceTimestamp": ts.format(i)} for f in ("Flow", "Speed", "Vibration")}
        doc = {"Messages": [{"DataSetWriterId": "pump", "Payload": payload}]}
        try:
            windows = asm.feed(doc, f"m{i}")
        except BadInput:
            continue
        for w in windows:
            assert np.isfinite(w.values).all(), "a window must never carry Inf into the model"


@fuzz_settings(4)
@given(docs=st.lists(telemetry_docs, min_size=1, max_size=4))
def test_filter_telemetry_parser_raises_only_contract_error(docs: list[Any]) -> None:
    for doc in docs:
        CASES["decoder anomaly_filter parse_network_message"] += 1
        try:
            samples = parse_network_message(doc)
        except ContractError:
            continue
        for s in samples:
            assert isinstance(s.asset, str) and isinstance(s.ts, float)


score_docs = st.one_of(
    CONTRACTS["score"], mutated(CONTRACTS["score"], 4), any_json, bodies("score").map(_loads)
)


@fuzz_settings(4)
@given(docs=st.lists(score_docs, min_size=1, max_size=4))
def test_score_parser_raises_only_contract_error(docs: list[Any]) -> None:
    for doc in docs:
        CASES["decoder anomaly_filter parse_score"] += 1
        try:
            score = parse_score(doc)
        except ContractError:
            continue
        assert isinstance(score.score, float) and isinstance(score.end, float)


# ---- envelopes and input messages (the runtime) ------------------------------------------------
@fuzz_settings(4)
@given(
    data=st.one_of(st.binary(max_size=300), any_json.map(lambda o: json.dumps(o).encode())),
    encoding=st.sampled_from([None, "utf-8", "UTF-16", "latin-1", "gzip", "no-such-codec", ""]),
    kinds=st.lists(st.sampled_from(["score", "anomaly", "writeRequest"]), max_size=2),
)
def test_input_message_decoding_raises_only_contract_error(
    data: bytes, encoding: str | None, kinds: list[str]
) -> None:
    CASES["decoder runtime InputMessage.json/envelope"] += 1
    msg = InputMessage("in", data, content_encoding=encoding)
    try:
        env = msg.envelope(*kinds)
    except ContractError:
        return
    assert env.kind in kinds or not kinds
    assert parse_envelope(msg.json()) == env


# ---- write requests and the write guard --------------------------------------------------------
request_docs = st.one_of(
    CONTRACTS["writeRequest"].map(lambda e: e["data"]),
    mutated(CONTRACTS["writeRequest"].map(lambda e: e["data"]), 4),
    any_json,
)
targets = st.sampled_from(
    [
        TargetSpec(node_id="ns=2;s=V", min=0, max=100),
        TargetSpec(node_id="ns=2;s=I", type="Int16", min=-5, max=5, max_rate_per_s=1),
        TargetSpec(node_id="ns=2;s=U", type="UInt32", min=0, max=2**32, min_interval_s=1),
        TargetSpec(node_id="ns=2;s=S", type="String", max_length=4),
        TargetSpec(node_id="ns=2;s=B", type="Boolean"),
    ]
)


@fuzz_settings(4)
@given(doc=request_docs, spec=targets, current=st.one_of(st.none(), st.floats(), st.integers(), st.text(max_size=3)),
       enabled=st.booleans(), now=st.floats(0, 1e9))  # fmt: skip
def test_write_request_parser_and_guard_never_raise_otherwise(
    doc: Any, spec: TargetSpec, current: Any, enabled: bool, now: float
) -> None:
    CASES["decoder opcua_writeback parse_request + guard"] += 1
    try:
        request = parse_request(doc)
    except ValueError:
        return
    guard = WriteGuard()
    guard.applied(request.target, 50.0, now - 0.5)
    verdict = guard.check(
        enabled=enabled, targets={request.target: spec}, request=request, now=now, current=current
    )
    value_ok = check_value(spec, request.value)
    if verdict.allowed:
        assert enabled and value_ok.allowed
        if spec.type not in ("String", "Boolean"):
            assert spec.min is not None and spec.max is not None
            assert spec.min <= request.value <= spec.max, "a value outside the limits was allowed"


# ---- JPEG frames ----------------------------------------------------------------------------------
@fuzz_settings(4)
@given(data=jpeg_frames(), target=st.sampled_from([32, 256, 640]))
def test_jpeg_decode_raises_only_bad_input_and_never_allocates_declared_giants(
    data: bytes, target: int
) -> None:
    CASES["decoder inference JPEG decode"] += 1
    try:
        w, h = jpeg_size(data)
    except BadInput:
        w = h = -1
    try:
        img, ow, oh = decode(data, target)
    except BadInput:
        return
    assert (ow, oh) == (w, h) and 0 < w * h <= MAX_PIXELS
    assert img.ndim == 3 and img.shape[2] == 3
    assert img.shape[0] <= h and img.shape[1] <= w, "decoded more pixels than the header declared"


# ---- configuration documents that arrive as data ------------------------------------------------
@fuzz_settings(2)
@given(doc=st.one_of(any_json, mutated(st.just(json.loads(
    (Path(__file__).resolve().parents[2] / "deployment" / "publishednodes.plant.json").read_text()
)[:2]), 4)))  # fmt: skip
def test_published_nodes_raise_only_config_error(doc: Any) -> None:
    CASES["decoder opcua_ingest parse_published_nodes"] += 1
    try:
        parse_published_nodes(doc)
    except ConfigError:
        pass


_RULES = json.loads(
    (Path(__file__).resolve().parents[2] / "deployment" / "deployment.template.json").read_text()
)["modulesContent"]["anomaly_filter"]["properties.desired"]["rules"]


@fuzz_settings(2)
@given(doc=st.one_of(any_json, mutated(st.just(_RULES), 4)))
def test_rule_sets_raise_only_config_error(doc: Any) -> None:
    CASES["decoder anomaly_filter parse_rules"] += 1
    try:
        parse_rules(doc)
    except ConfigError:
        pass


# ---- the router: intake, batches, thinning, the batch decoder -----------------------------------
router_inputs = st.sampled_from(["anomalies", "summaries", "audit", "drift", "deadletter"])
router_docs = st.one_of(
    CONTRACTS["anomaly"], CONTRACTS["summary"], CONTRACTS["audit"], CONTRACTS["drift"],
    mutated(CONTRACTS["summary"], 4), mutated(CONTRACTS["anomaly"], 4), any_json,
)  # fmt: skip


@pytest.fixture(scope="module")
def store_dir() -> Any:
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


def _router(path: Path, budget: float | None) -> Router:
    store = Store(path, sync="normal")
    store.open()
    return Router(store, Budget(budget), Policy(compress=True), source={"module": "fuzz", "version": "0"})


@fuzz_settings(1)
@given(batch=st.lists(st.tuples(router_inputs, router_docs), min_size=1, max_size=8), n=st.integers(0, 10**9))
def test_router_batches_decode_to_exactly_what_was_accepted(
    store_dir: Path, batch: list[tuple[str, Any]], n: int
) -> None:
    """Whatever the router keeps goes upstream once, in a batch the decoder reads back event for event."""
    router = _router(store_dir / f"rt-{n}.db", None)
    kept: dict[str, Any] = {}
    try:
        for input_name, doc in batch:
            CASES["decoder upstream_router accept + batch decode"] += 1
            try:
                router.accept(input_name, doc, 1000.0)
            except ContractError:
                continue
            kept.setdefault(doc["id"], json.loads(json.dumps(doc)))
        seen: dict[str, Any] = {}
        while (enc := router.next_batch(10_000.0, flush=True)) is not None:
            for event in batching.decode(enc.payload, enc.content_encoding):
                assert event["id"] not in seen, "an event went upstream twice"
                seen[event["id"]] = event
            router.sent(enc, 10_000.0)
        assert set(seen) == set(kept), "every accepted event goes upstream, nothing else"
    finally:
        router.store.close()


POISON_SUMMARIES = [
    pytest.param({"asset": "pump", "fields": {"Flow": 5}}, id="field-not-an-aggregate"),
    pytest.param({"asset": "pump", "fields": {"Flow": {"count": "many"}}}, id="count-not-a-number"),
    pytest.param("not an object", id="data-not-an-object"),
    pytest.param({"asset": "pump", "anomalies": "two"}, id="anomalies-not-a-number"),
]


@pytest.mark.parametrize("poison", POISON_SUMMARIES)
def test_router_thinning_survives_a_summary_that_breaks_the_contract(store_dir: Path, poison: Any) -> None:
    # Such a summary once got stored and then crashed Router.thin() in every next_batch() while the
    # budget held summaries back; it is refused at intake now (the runtime dead-letters it).
    router = _router(store_dir / f"thin-{uuid.uuid4()}.db", 1.0)
    try:
        good = summary_example()
        for i in range(2):
            router.accept("summaries", {"v": 1, "kind": "summary", "id": f"s{i}", "data": good}, 0.0)
        with pytest.raises(ContractError):
            router.accept("summaries", {"v": 1, "kind": "summary", "id": "poison", "data": poison}, 0.0)
        router.budget.spend(10_000, 999.0)  # over budget: summaries wait and get thinned
        router.next_batch(1000.0)
    finally:
        router.store.close()


def summary_example() -> dict[str, Any]:
    return {"asset": "pump", "periodStart": "2027-01-15T08:00:00.000Z", "periodEnd": "2027-01-15T08:01:00.000Z",
            "fields": {"Flow": {"min": 1.0, "max": 2.0, "mean": 1.5, "count": 10}}, "anomalies": 0}  # fmt: skip


@pytest.mark.parametrize("payload", [b"null", b"[]", b"5", b'"batch"'])
def test_batch_decoder_refuses_json_that_is_not_an_object_with_value_error(payload: bytes) -> None:
    with pytest.raises(ValueError):
        batching.decode(payload, "utf-8")


garbage = st.one_of(
    st.binary(max_size=300).filter(lambda b: not _is_json(b)),
    st.dictionaries(st.text(max_size=8), any_json, max_size=4).map(lambda o: json.dumps(o).encode()),
)


def _is_json(b: bytes) -> bool:
    try:
        json.loads(b)
    except (ValueError, RecursionError):
        return False
    return True


@fuzz_settings(4)
@given(data=garbage, gzipped=st.booleans(), encoding=st.sampled_from(["gzip", "utf-8", None]))
def test_batch_decoder_on_garbage_raises_only_value_errors(
    data: bytes, gzipped: bool, encoding: str | None
) -> None:
    """What a cloud-side reader sees for a corrupt upstream message: a ValueError family error, or events."""
    CASES["decoder upstream_router batching.decode (garbage)"] += 1
    data = gzip.compress(data) if gzipped else data
    try:
        events = batching.decode(data, encoding)
    except (ValueError, EOFError, OSError):
        return
    assert isinstance(events, list)
