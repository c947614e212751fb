"""Builders for inference tests: PubSub messages from the plant model, a copy of the model repository."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from edgeloop_contracts import Contract
from edgeloop_dev.hub.harness import HubProcess, SdkModule
from edgeloop_dev.plant.faults import fault_schedule
from edgeloop_dev.plant.model import PlantModel

ROOT = Path(__file__).resolve().parents[2]
REPO = ROOT / "modules" / "inference" / "model_repository"
TESTSET = ROOT / "tests" / "data" / "vision" / "defects"
MODELS = ROOT / "tests" / "data" / "models"
T0 = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def plant_messages(
    n: int, seed: int = 42, assets: tuple[str, ...] = ("pump",), start: int = 0
) -> list[dict[str, Any]]:
    """`n` network messages at 10 Hz, each with one key frame per asset, from the plant's process model
    (from step `start`: the plant's first minutes are its warm-up)."""
    model = PlantModel(fault_schedule(seed, "steady"), seed=seed)
    prefix = {"conveyor": "Conveyor", "crusher": "Crusher", "pump": "Pump"}
    out = []
    for i in range(start + n):
        t = T0 + timedelta(seconds=i / 10)
        row = model.step(i / 10)
        if i < start:
            continue
        msgs = []
        for asset in assets:
            payload = {
                name.split(".", 1)[1]: {
                    "Value": s.value,
                    "SourceTimestamp": iso(t),
                    "ServerTimestamp": iso(t),
                }
                for name, s in row.items()
                if name.startswith(prefix[asset] + ".")
            }
            msgs.append(
                {
                    "DataSetWriterId": asset,
                    "DataSetWriterGroup": "plant",
                    "SequenceNumber": i,
                    "MessageType": "ua-keyframe",
                    "Timestamp": iso(t),
                    "Payload": payload,
                }
            )
        out.append({"MessageId": f"m-{i}", "MessageType": "ua-data", "PublisherId": "test", "Messages": msgs})
    return out


def copy_repo(dest: Path) -> Path:
    shutil.copytree(REPO, dest)
    return dest


def add_version(repo: Path, model: str, src: str, dst: str, corrupt: bool = False) -> Path:
    """A new version folder: a copy of `src` (metadata re-versioned), optionally with corrupted bytes."""
    import json

    vdir = repo / model / dst
    shutil.copytree(repo / model / src, vdir)
    meta = json.loads((vdir / "metadata.json").read_text())
    meta["version"] = dst
    (vdir / "metadata.json").write_text(json.dumps(meta))
    if corrupt:
        data = bytearray((vdir / "model.onnx").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (vdir / "model.onnx").write_bytes(bytes(data))
    return vdir


def module_env(hub_env: dict[str, str], **extra: str) -> dict[str, str]:
    """The test process's environment without its own IoT Edge variables, plus the hub's and `extra`."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("IOTEDGE_", "EdgeHub"))}
    env.update(hub_env)
    env.update(extra)
    return env


def post_image(url: str, data: bytes) -> tuple[int, dict[str, Any]]:
    """POST one image as multipart field `image` (the ASE sample's contract): (status, JSON body)."""
    import json
    import urllib.error
    import urllib.request
    import uuid

    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="f.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    )
    body = head.encode() + data + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(url, body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def get_json(url: str) -> tuple[int, dict[str, Any]]:
    """GET a JSON resource: (status, body), also for error statuses."""
    import json
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def raw_outputs(model: Path, size: int) -> list[np.ndarray]:
    """The model's raw outputs for one image (these test models' outputs do not depend on the pixels)."""
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) else size for d in inp.shape]
    dtype = np.uint8 if inp.type == "tensor(uint8)" else np.float32
    return list(sess.run(None, {inp.name: np.zeros(shape, dtype)}))


class Sink:
    """Records what the service sends, as the JSON data on the wire (a contract as its camelCase dict)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any, str | None]] = []

    async def send(
        self, output: str, data: Any, *, kind: str | None = None, message_id: str | None = None
    ) -> str:
        self.sent.append((output, data.to_data() if isinstance(data, Contract) else data, message_id))
        return message_id or ""


class RunningInference:
    """`python -m inference` started by the `start_module` fixture, with its hub, feeder and REST address."""

    def __init__(self, hub: HubProcess, feeder: SdkModule, rest: str, log: Path) -> None:
        self.hub, self.feeder, self.rest, self.log = hub, feeder, rest, log

    def reported(self) -> dict[str, Any]:
        return dict(self.hub.twin("inference").get("reported", {}))

    def upstream_bodies(self, kind: str) -> list[dict[str, Any]]:
        out = []
        for e in self.hub.upstream():
            payload = e["event"]["payload"]
            body = json.loads(payload) if isinstance(payload, str) else payload
            if isinstance(body, dict) and body.get("kind") == kind:
                out.append(body)
        return out


def contract_refusal(outcome: Any) -> bool:
    """Whether an outcome is the shared PubSub contract refusing a message the legacy parser took field by
    field: BadInput `bad_telemetry` whose detail names where the message breaks the model (or its JSON)."""
    return (
        isinstance(outcome, tuple)
        and outcome[:2] == ("BadInput", "bad_telemetry")
        and (
            outcome[2].startswith("not an OPC UA PubSub network message: ")
            or outcome[2].startswith("PubSub network message is not valid UTF-8 JSON: ")
        )
    )
