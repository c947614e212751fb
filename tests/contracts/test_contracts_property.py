"""For any well-typed body, what a sender encodes is what the receiver decodes (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from edgeloop_contracts import Envelope, Source, decode_envelope, encode
from edgeloop_contracts.anomaly import Anomaly, AnomalyWindow
from edgeloop_contracts.score import Detection, ModelRef, Score
from edgeloop_contracts.write_request import WriteRequest

text = st.text(max_size=12)
name = st.text(min_size=1, max_size=12)
number = st.floats(allow_nan=False, allow_infinity=False)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | number | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
models = st.builds(ModelRef, name=text, version=text)
detections = st.builds(
    Detection,
    class_=text,
    confidence=number,
    class_id=st.integers(0, 1000),
    bbox=st.lists(number, min_size=4, max_size=4),
)
scores = st.builds(
    Score,
    type=st.sampled_from(["window", "frame"]),
    asset=name,
    model=models,
    score=number,
    threshold=st.none() | number,
    contributions=st.dictionaries(text, number, max_size=4),
    quality=st.sampled_from(["good", "uncertain", "bad"]),
    window_start=text,
    window_end=text,
    source_timestamp=st.none() | text,
    source_message_ids=st.lists(text, max_size=3),
    detections=st.lists(detections, max_size=3),
)
anomalies = st.builds(
    Anomaly,
    event_id=text, state=st.sampled_from(["open", "escalate", "close"]), asset=text, anomaly_kind=text,
    severity=st.sampled_from(["info", "warning", "critical"]), score=st.none() | number,
    thresholds=st.dictionaries(text, json_value, max_size=3), start=text, end=st.none() | text,
    evidence=st.dictionaries(text, json_value, max_size=3), model=st.none() | models, source_timestamp=text,
    window=st.none() | st.builds(AnomalyWindow, timestamps=st.lists(text, max_size=3),
                                 fields=st.dictionaries(text, st.lists(st.none() | number, max_size=3), max_size=2)),
)  # fmt: skip
requests = st.builds(
    WriteRequest,
    request_id=st.text(min_size=1, max_size=256),
    target=st.text(min_size=1, max_size=256),
    value=json_value,
    reason=st.none() | text,
)


@settings(max_examples=150, deadline=None)
@given(body=st.one_of(scores, anomalies, requests), mid=name, corr=st.none() | text)
def test_what_goes_out_comes_back_the_same(
    body: Score | Anomaly | WriteRequest, mid: str, corr: str | None
) -> None:
    env = Envelope(kind=body.KIND, id=mid, ts="t", source=Source("m", "1"), correlation_id=corr, data=body)
    back = decode_envelope(encode(env), type(body))
    assert back.data.to_data() == body.to_data() and (back.id, back.correlation_id) == (mid, corr)
