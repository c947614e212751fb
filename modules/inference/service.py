"""Between the runtime and the models: telemetry -> windows -> scores (+ drift), frames -> detections."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
from msgspec import UNSET

from edgeloop_contracts.drift import Drift
from edgeloop_contracts.score import (
    ClassScore,
    Detection,
    ModelRef,
    Quality,
    Score,
    frame_score_id,
    window_score_id,
)
from edgeloop_runtime import get_logger, utc_now_iso

from .engine.manager import EngineOptions, LoadedModel, ModelManager
from .engine.processors import FrameResult, WindowResult
from .errors import BadInput, ModelRejected
from .sensor.drift import DriftMonitor
from .sensor.windows import Window, WindowAssembler
from .settings import Settings
from .shadow.candidates import Shadows
from .telemetry_metrics import InferenceMetrics

_log = get_logger(__name__)


class Sender(Protocol):
    async def send(
        self, output: str, data: Any, *, kind: str | None = None, message_id: str | None = None
    ) -> str: ...


def engine_options(s: Settings) -> EngineOptions:
    return EngineOptions(
        root=Path(s.model_path),
        providers=list(s.providers),
        vision_model=s.vision_model,
        decoder=s.decoder,
        tensorrt_fp16=s.tensorrt_fp16,
        tensorrt_cache=s.tensorrt_cache,
        require_gpu=s.require_gpu,
        intra_op_threads=s.intra_op_threads,
        confidence=s.confidence_threshold,
        batching=dict(s.batching),
        pre_threads=s.pre_threads,
        max_in_flight=s.max_in_flight,
    )


class InferenceService:
    """Owns the model manager, the window assembler and the drift monitor; no SDK code here."""

    def __init__(self, settings: Settings, metrics: InferenceMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.manager = ModelManager(engine_options(settings), metrics.observe_stage, metrics.observe_batch)
        self.assembler: WindowAssembler | None = None
        self.drift: DriftMonitor | None = None
        self._window_key: Any = None
        self.waiting: dict[str, str] = {}  # model -> why it is not served yet (nothing under MODEL_PATH)
        self._seen: set[Any] = set()  # (model, version, fingerprint) loaded or refused: not tried again
        self._pending: dict[str, Any] = {}  # model -> (version, fingerprint) seen once: still being written?
        # model -> (promoted version, the twin's pin when promoted): a promotion holds until the pin changes
        self.promoted: dict[str, tuple[str, str | None]] = {}
        self.shadows = Shadows(self.manager)
        self._reported: dict[str, Any] = {}

    def pinned(self, name: str, settings: Settings | None = None) -> str | None:
        """The version to serve: a promotion, else the twin's modelVersions pin, else None (the highest)."""
        settings = settings or self.settings
        pin = settings.model_versions.get(name)
        promoted = self.promoted.get(name)
        if promoted is not None:
            if promoted[1] == pin:
                return promoted[0]
            del self.promoted[name]  # the twin's pin changed since: it wins
        return pin

    def names(self) -> list[str]:
        """The configured models this MODEL_PATH can hold (a single .onnx is the vision model only)."""
        store = self.manager.store
        return [n for n in (self.settings.sensor_model, self.settings.vision_model) if store.expects(n)]

    async def load_all(self, settings: Settings, *, strict: bool = False) -> None:
        """Load (or switch to) the configured version of every configured model. Nothing there yet is
        waiting, not an error; a refused version is recorded (and raised when `strict` and pinned)."""
        self.settings = settings
        self.manager.options = engine_options(settings)
        for name in (settings.sensor_model, settings.vision_model):
            if name not in self.names():
                self.waiting.pop(name, None)
        for name in self.names():
            pinned = self.pinned(name, settings)
            try:
                await self.load(name, pinned)
            except ModelRejected as exc:
                if strict and pinned:
                    raise
                if not pinned and exc.reason != "not_found" and name not in self.manager.current:
                    await self._fall_back(name)
        await self.sync_shadows(settings)

    async def sync_shadows(self, settings: Settings) -> None:
        """Load the configured shadow candidates, drop the others."""
        await self.shadows.sync(settings)

    def take_summaries(self) -> list[dict[str, Any]]:
        return self.shadows.take_summaries()

    def due_for_promotion(self, summary: dict[str, Any], now: float) -> bool:
        return self.shadows.due_for_promotion(summary, now, self.settings)

    async def promote(self, name: str, version: str | None = None) -> LoadedModel:
        """Make the candidate (or `version`) the active version; it holds until the twin's pin changes."""
        candidate = self.manager.shadows.get(name)
        version = version or (candidate.version if candidate else None)
        if version is None:
            raise ModelRejected("no_candidate", f"model {name!r} has no shadow candidate to promote")
        loaded = await self.load(name, version)
        self.promoted[name] = (version, self.settings.model_versions.get(name))
        self.shadows.promoted(name)
        await self.sync_shadows(self.settings)
        _log.info("model promoted", model=name, version=version)
        return loaded

    async def _fall_back(self, name: str) -> None:
        """The newest version was refused and nothing serves: the next older one that loads serves (the
        refusal stays reported)."""
        refusal = self.manager.refused.get(name)
        for version in reversed(self.manager.store.versions(name)[:-1]):
            try:
                await self.load(name, version)
            except ModelRejected:
                continue
            if refusal is not None:
                self.manager.refused[name] = refusal
            return

    async def load(self, name: str, version: str | None, *, force: bool = False) -> LoadedModel:
        """Load one model (see ModelManager.load); waiting / refused states and metrics kept here."""
        store = self.manager.store
        try:
            chosen = self.manager.pick_version(name, version)
            seen = (name, chosen, store.fingerprint(name, chosen))
        except ModelRejected:
            seen = None
        try:
            loaded = await self.manager.load(name, version, force=force)
        except ModelRejected as exc:
            if exc.reason == "not_found" and not version:
                self.waiting[name] = f"waiting for model: no version of {name!r} under {store.setting}"
                _log.warning("waiting for model", model=name, setting=store.setting)
            else:
                self.waiting.pop(name, None)
                self.metrics.refused.labels(model=name, reason=exc.reason).inc()
            if seen is not None:
                self._seen.add(seen)
            raise
        if seen is not None:
            self._seen.add(seen)
        self.waiting.pop(name, None)
        self.metrics.in_service(name, loaded.version, loaded.report.primary)
        if loaded.files.metadata.kind == "window":
            self._sync_windows(loaded)
        return loaded

    async def watch_once(self) -> bool:
        """Load what landed in MODEL_PATH since the last look (a version's files unchanged over two looks,
        so a copy still in progress is not taken); True when something was loaded or refused."""
        changed = False
        store = self.manager.store
        for name in self.names():
            pinned = self.pinned(name)
            try:
                target = self.manager.pick_version(name, pinned)
                key = (name, target, store.fingerprint(name, target))
            except ModelRejected:
                continue  # nothing there (waiting), or the pinned version is missing (already refused)
            if key in self._seen:
                continue
            if self._pending.get(name) != key:
                self._pending[name] = key
                continue
            current = self.manager.current.get(name)
            try:
                await self.load(name, pinned, force=current is not None and current.version == target)
            except ModelRejected:
                pass  # recorded as refused; the previous version (if any) keeps serving
            changed = True
        return changed

    def _sync_windows(self, loaded: LoadedModel) -> None:
        meta = loaded.files.metadata
        assert meta.window is not None
        key = (meta.window, tuple((a, tuple(s.fields), s.index) for a, s in meta.assets.items()))
        if key != self._window_key:  # same contract: keep the buffered rows across a version swap
            fallback = {
                asset: {f: b.mean for f, b in fields.items()}
                for asset, fields in (meta.drift.baseline if meta.drift else {}).items()
            }
            self.assembler = WindowAssembler(meta.window, meta.assets, fallback)
            self._window_key = key
        if meta.drift is not None and self.settings.drift_enabled:
            self.drift = DriftMonitor(meta.drift.baseline, meta.drift.window_size, meta.drift.threshold)

    def status_patch(self) -> dict[str, Any]:
        """`status()` as a reported-properties patch: entries gone since the last patch are set to null
        (reported properties merge, so an entry left out would otherwise stay)."""
        now = self.status()
        patch = dict(now)
        for key, value in now.items():
            if isinstance(value, dict):
                gone = {k: None for k in self._reported.get(key, {}) if k not in value}
                patch[key] = {**gone, **value}
        self._reported = now
        return patch

    def status(self) -> dict[str, Any]:
        """Loaded, refused and waiting models, and one word for the vision model's state."""
        status = self.manager.status()
        status["waiting"] = dict(self.waiting)
        status["promoted"] = {name: v for name, (v, _pin) in self.promoted.items()}
        vision = self.settings.vision_model
        if vision in status["loaded"]:
            state = "serving"
        elif vision in status["refused"]:
            state = "model refused"
        else:
            state = "waiting for model"
        status["state"] = state
        return status

    # ---- telemetry ------------------------------------------------------------------------
    async def on_telemetry(self, out: Sender, body: Any, message_id: str | None) -> int:
        """Feed one PubSub message; score every window it completes; return the number of scores sent."""
        if self.assembler is None:
            raise ModelRejected("not_loaded", "no window model loaded")
        try:
            windows = self.assembler.feed(body, message_id)
        except BadInput as exc:
            self.metrics.rejected.labels(input="telemetry", reason=exc.reason).inc()
            raise
        if not windows:  # most messages only add a row: a window completes every `stride` rows
            return 0
        name = self.settings.sensor_model
        t0 = time.perf_counter()
        if len(windows) == 1:  # the common case
            results: list[Any] = [await self.manager.submit(name, windows[0])]
        else:  # a message that completes several assets' windows: one batch, answered in order
            results = await self.manager.submit_many(name, windows)
        active_ms = (time.perf_counter() - t0) * 1000
        sent = 0
        error: BaseException | None = None
        for w, r in zip(windows, results, strict=True):
            if isinstance(r, BaseException):
                error = error or r
                continue
            loaded, result = r
            self.shadows.window(loaded.name, w, result, active_ms)
            await out.send(
                "scores", self.window_score(loaded, w, result), kind=Score.KIND, message_id=self._id(w)
            )
            sent += 1
            await self._drift(out, loaded, w)
        if error is not None:
            raise error  # the windows that were scored are sent; the message is dead-lettered
        return sent

    @staticmethod
    def _id(w: Window) -> str:
        return window_score_id(w.asset, w.window_start, w.window_end, w.message_ids)

    @staticmethod
    def window_score(loaded: LoadedModel, w: Window, r: WindowResult) -> Score:
        return Score(
            type="window",
            asset=w.asset,
            model=ModelRef(loaded.name, loaded.version),
            score=r.score,
            threshold=loaded.files.metadata.threshold,
            contributions=r.contributions,
            quality=cast(Quality, w.quality),  # the assembler's three words
            window_start=w.window_start,
            window_end=w.window_end,
            source_timestamp=w.source_timestamp,
            source_message_ids=list(w.message_ids),
        )

    async def _drift(self, out: Sender, loaded: LoadedModel, w: Window) -> None:
        meta = loaded.files.metadata
        if self.drift is None or w.quality != "good" or meta.window is None:
            return
        fields = meta.assets[w.asset].fields
        self.drift.add(
            w.asset, fields, np.asarray(w.values[-meta.window.stride :, : len(fields)], np.float64)
        )
        if not self.drift.due(w.asset):
            return
        values = self.drift.check(w.asset)
        metrics = {f: self.drift.metric(w.asset, f) for f in values}
        for f, v in values.items():
            self.metrics.drift.labels(asset=w.asset, field=f, metric=metrics[f]).set(v)
        limits = {f: self.drift.limit(w.asset, f) for f in values}
        drifted = [f for f, v in values.items() if v > limits[f]]
        if drifted:
            drift = Drift(
                model=ModelRef(loaded.name, loaded.version),
                asset=w.asset,
                features=values,
                metrics=metrics,
                threshold=self.drift.threshold,
                thresholds=limits,
                drifted=drifted,
                window_size=self.drift.size,
                at=utc_now_iso(),
            )
            await out.send("drift", drift, kind=Drift.KIND)

    # ---- frames ---------------------------------------------------------------------------
    async def detect(self, image: bytes, source: str) -> tuple[LoadedModel, FrameResult]:
        """Detections for one JPEG (shared batcher for frames and REST); BadInput for unusable images."""
        t0 = time.perf_counter()
        try:
            loaded, result = await self.manager.submit(self.settings.vision_model, image)
        except BadInput as exc:
            self.metrics.rejected.labels(input=source, reason=exc.reason).inc()
            raise
        self.shadows.frame(loaded.name, image, result, (time.perf_counter() - t0) * 1000)
        return loaded, result

    async def on_frame(self, out: Sender, data: bytes, props: dict[str, str], message_id: str | None) -> None:
        loaded, result = await self.detect(data, "frames")
        capture = props.get("captureTs") or utc_now_iso()
        camera = props.get("cameraId", "camera")
        dets = result.detections
        score = max((float(d["confidence"]) for d in dets), default=0.0)
        counts: dict[str, float] = {}
        for d in dets:
            counts[str(d["class"])] = counts.get(str(d["class"]), 0.0) + 1.0
        body = Score(
            type="frame",
            asset=camera,
            model=ModelRef(loaded.name, loaded.version),
            score=round(score, 4),
            threshold=loaded.runner.meta.threshold,
            contributions=counts,
            quality="good",
            window_start=capture,
            window_end=capture,
            source_timestamp=capture,
            source_message_ids=[message_id] if message_id else [],
            camera_id=camera,
            seq=_int(props.get("seq")),
            capture_ts=capture,
            detections=[_detection(d) for d in dets],
        )
        if result.classes:
            body.classes = [_class_score(c) for c in result.classes]
            body.score = float(result.classes[0]["confidence"])
            body.contributions = {str(c["class"]): float(c["confidence"]) for c in result.classes}
        mid = frame_score_id(camera, props.get("seq"), message_id)
        await out.send("scores", body, kind=Score.KIND, message_id=mid)


def _int(v: str | None) -> int | None:
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


def _detection(d: dict[str, Any]) -> Detection:
    """A decoder's detection dict as the contract's Detection."""
    return Detection(
        class_=str(d["class"]),
        class_id=d.get("classId", UNSET),  # not every decoder numbers its classes
        confidence=d["confidence"],
        bbox=d.get("bbox", UNSET),
    )


def _class_score(c: dict[str, Any]) -> ClassScore:
    """A classifier's top class as the contract's ClassScore."""
    return ClassScore(class_=str(c["class"]), class_id=c.get("classId", UNSET), confidence=c["confidence"])
