"""Every registered contract encodes to camelCase JSON and decodes back to the same value."""

from __future__ import annotations

import json

import msgspec
import pytest
from contract_samples import SAMPLES, frame_score

from edgeloop_contracts import Contract, Envelope, Source, decode_envelope, encode
from edgeloop_contracts.registry import CONTRACTS
from edgeloop_contracts.score import Score


def test_every_enveloped_contract_has_a_sample_and_its_name_is_its_kind() -> None:
    enveloped = {name: info for name, info in CONTRACTS.items() if info.enveloped}  # PubSub, JPEG: not
    assert set(SAMPLES) == set(enveloped)
    kinds = {name: getattr(info.model, "KIND", None) for name, info in enveloped.items()}
    assert kinds == {name: name for name in enveloped}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_contract_decodes_to_what_was_encoded(name: str) -> None:
    body = SAMPLES[name]
    again = type(body).decode(body.encode())
    assert again.to_data() == body.to_data()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_an_enveloped_contract_decodes_with_its_body_typed(name: str) -> None:
    body = SAMPLES[name]
    env = Envelope(kind=body.KIND, id="m1", ts="t", source=Source("m", "1"), correlation_id="c", data=body)
    back = decode_envelope(encode(env), type(body))
    assert (back.kind, back.id, back.correlation_id, back.source) == (body.KIND, "m1", "c", Source("m", "1"))
    assert isinstance(back.data, type(body)) and back.data.to_data() == body.to_data()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_wire_keys_are_camel_case(name: str) -> None:
    def keys(obj: object) -> list[str]:
        if isinstance(obj, dict):
            return [k for k, v in obj.items() for k in [k, *keys(v)]]
        if isinstance(obj, list):
            return [k for v in obj for k in keys(v)]
        return []

    assert not [k for k in keys(json.loads(SAMPLES[name].encode())) if "_" in k]


def test_fields_absent_on_the_wire_stay_absent() -> None:
    window = json.loads(SAMPLES["score"].encode())
    frame = json.loads(frame_score().encode())
    assert set(frame) - set(window) == {"cameraId", "seq", "captureTs", "detections"}
    assert frame["detections"] == [
        {"class": "person", "classId": 0, "confidence": 0.8, "bbox": [1.0, 2.0, 30.5, 40.0]}
    ]


def test_a_receiver_fills_in_what_older_score_senders_left_out() -> None:
    score = Score.from_data({"asset": "pump", "model": {"name": "pca"}, "score": 1})
    assert (score.type, score.quality, score.threshold, score.model.version) == ("window", "good", None, "")
    assert score.window_end is msgspec.UNSET


def test_contracts_are_structs_not_dicts() -> None:
    assert all(isinstance(s, Contract) for s in SAMPLES.values())
