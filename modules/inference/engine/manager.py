"""Loaded models: validate and warm up a version, swap it in atomically, drain the old, refuse bad ones."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeloop_runtime import get_logger, utc_now_iso

from ..errors import ModelRejected, ProviderError
from ..models.infer import infer_metadata
from ..models.metadata import Batching
from ..models.repository import ModelFiles, check_complete, check_sha256
from ..models.store import ModelStore
from .batcher import BatcherClosed, MicroBatcher
from .processors import FrameProcessor, PreparedFrame, StageObserver, WindowProcessor
from .session import (
    OrtRunner,
    ProviderReport,
    TensorrtOptions,
    check_contract,
    check_providers,
    create_session,
    example_feeds,
)

_log = get_logger(__name__)


@dataclass
class LoadedModel:
    """One model version in service: its files, session, processor and batcher (and its own thread)."""

    files: ModelFiles
    report: ProviderReport
    runner: OrtRunner
    processor: WindowProcessor | FrameProcessor
    batcher: MicroBatcher[Any, Any]
    executor: ThreadPoolExecutor
    batching: Batching
    inline: bool = False
    loaded_at: str = field(default_factory=utc_now_iso)

    @property
    def name(self) -> str:
        return self.files.name

    @property
    def prepare(self) -> Callable[[bytes], PreparedFrame] | None:
        """The step a request goes through before batching (frames: decode + letterbox), if any."""
        return self.processor.prepare if isinstance(self.processor, FrameProcessor) else None

    @property
    def version(self) -> str:
        return self.files.version

    def describe(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "kind": self.files.metadata.kind,
            "decoder": post.type if (post := self.files.metadata.postprocess) else None,
            "sha256": self.files.metadata.sha256,
            "provider": self.report.primary,
            "providers": list(self.report.active),
            "maxBatchSize": self.batching.max_batch_size,
            "maxQueueDelayMs": self.batching.max_queue_delay_ms,
            "padBatch": bool(self.batching.pad_batch),
            "inline": self.inline,
            "loadedAt": self.loaded_at,
        }


@dataclass(frozen=True)
class EngineOptions:
    """How sessions are created and batched (from the module settings)."""

    root: Path
    providers: list[str]
    vision_model: str = "defect_detector"
    decoder: str = ""  # DECODER: the vision model's postprocess.type, whatever is inferred
    tensorrt_fp16: bool = False
    tensorrt_cache: str = ""  # "" = MODEL_PATH/.trt_cache when MODEL_PATH is a writable folder
    require_gpu: bool = False
    intra_op_threads: int = 0
    confidence: float | None = None
    batching: dict[str, dict[str, Any]] = field(default_factory=dict)
    queue_size: int = 1024
    pre_threads: int = 2  # decode/letterbox pool, shared by all versions (OpenCV releases the GIL); 0: cores
    max_in_flight: int = 2  # batches running at once per model version
    inline_below_ms: float = 0.5  # a model whose full batch runs faster than this runs on the event loop

    def session_threads(self) -> int:
        """ORT intra-op threads: as configured, or (0 = auto) the cores shared by the batches in flight."""
        if self.intra_op_threads > 0:
            return self.intra_op_threads
        return max(1, (os.cpu_count() or 1) // self.max_in_flight)

    def decode_threads(self) -> int:
        """Decode/letterbox threads: as configured, or (0) one per core. Two is the default: on the 16-core
        H100 machine one per core served camera-sized frames 41% faster in process but 512x384 images 45%
        slower (the GIL around the letterbox); see the module README."""
        return self.pre_threads if self.pre_threads > 0 else max(1, os.cpu_count() or 1)


BatchObserver = Callable[[str, int, list[float]], None]


class ModelManager:
    """The models in service, by name; `submit` always reaches exactly one version."""

    def __init__(
        self,
        options: EngineOptions,
        observe_stage: Callable[[str], StageObserver] | None = None,
        observe_batch: BatchObserver | None = None,
    ) -> None:
        self.options = options
        self.current: dict[str, LoadedModel] = {}
        self.shadows: dict[str, LoadedModel] = {}  # candidates run beside the active version
        self.refused: dict[str, dict[str, Any]] = {}
        self._lock = asyncio.Lock()
        self._observe_stage = observe_stage
        self._observe_batch = observe_batch
        self._retiring: set[asyncio.Task[None]] = set()
        self._pre_pool = ThreadPoolExecutor(options.decode_threads(), thread_name_prefix="pre")

    @property
    def store(self) -> ModelStore:
        return ModelStore(self.options.root, self.options.vision_model)

    def pick_version(self, name: str, wanted: str | None) -> str:
        """The version asked for, or the highest; ModelRejected('not_found') when it does not exist."""
        found = self.store.versions(name)
        if not found:
            raise ModelRejected("not_found", f"no version of model {name!r} under {self.store.setting}")
        if wanted in (None, "", "latest"):
            return found[-1]
        if wanted not in found:
            raise ModelRejected("not_found", f"model {name!r} has no version {wanted!r} (has {found})")
        return str(wanted)

    def tensorrt(self, name: str, version: str) -> TensorrtOptions:
        """TensorRT options for one version: its own engine cache folder on the model volume."""
        o = self.options
        root = Path(o.tensorrt_cache) if o.tensorrt_cache else None
        if root is None and o.root.is_dir() and os.access(o.root, os.W_OK):
            root = o.root / ".trt_cache"
        return TensorrtOptions(o.tensorrt_fp16, str(root / name / version) if root is not None else None)

    def _read(self, name: str, version: str) -> tuple[ModelFiles, Any, ProviderReport]:
        """Read a version, create its session; metadata as written, or inferred from the graph."""
        raw = self.store.read(name, version)
        threads, trt = self.options.session_threads(), self.tensorrt(name, version)
        if raw.complete:
            files = check_complete(raw)
            sess, report = create_session(files.data, self.options.providers, threads, trt)
            check_providers(report, self.options.require_gpu)
            check_contract(sess, files.metadata)
            return files, sess, report
        expected = raw.sidecar.get("sha256")
        digest = check_sha256(raw, str(expected)) if expected else hashlib.sha256(raw.data).hexdigest()
        sess, report = create_session(raw.data, self.options.providers, threads, trt)
        check_providers(report, self.options.require_gpu)
        decoder = self.options.decoder if name == self.options.vision_model else ""
        meta = infer_metadata(sess, raw.sidecar, name, version, digest, decoder)
        return ModelFiles(name, version, raw.path, raw.data, meta), sess, report

    def _build(self, name: str, version: str) -> LoadedModel:
        """Blocking: read, check, create the session, check providers and contract, warm up."""
        files, sess, report = self._read(name, version)
        meta = files.metadata
        override = self.options.batching.get(name, {})
        merged = Batching.model_validate({**meta.batching.model_dump(by_alias=True), **override})
        batching = merged.for_provider(report.on_gpu)
        if "maxBatchSize" in override:  # a size set for this site wins over the model's cpuMaxBatchSize
            batching = batching.model_copy(update={"max_batch_size": merged.max_batch_size})
        meta = meta.model_copy(update={"batching": batching})
        runner = OrtRunner(sess, report, meta)
        runner.warm_up()
        started = time.perf_counter()
        runner.run(example_feeds(meta, batching.max_batch_size))
        inline = (time.perf_counter() - started) * 1000 < self.options.inline_below_ms
        observer = self._observe_stage(name) if self._observe_stage else None
        processor: WindowProcessor | FrameProcessor
        if meta.kind == "window":
            processor = WindowProcessor(runner, meta, observer) if observer else WindowProcessor(runner, meta)
        else:
            pool = self._pre_pool
            processor = (
                FrameProcessor(runner, meta, self.options.confidence, observer, pool=pool)
                if observer
                else FrameProcessor(runner, meta, self.options.confidence, pool=pool)
            )
        in_flight = max(1, self.options.max_in_flight)
        executor = ThreadPoolExecutor(in_flight, thread_name_prefix=f"ort-{name}-{version}")
        observe_batch = self._observe_batch
        on_batch = (lambda n, waits: observe_batch(name, n, waits)) if observe_batch else None
        batcher: MicroBatcher[Any, Any] = MicroBatcher(
            processor,
            max_batch_size=batching.max_batch_size,
            max_queue_delay_s=batching.max_queue_delay_ms / 1000.0,
            executor=executor,
            queue_size=self.options.queue_size,
            max_in_flight=in_flight,
            inline=inline,
            on_batch=on_batch,
        )
        return LoadedModel(files, report, runner, processor, batcher, executor, batching, inline=inline)

    async def load(self, name: str, version: str | None = None, *, force: bool = False) -> LoadedModel:
        """Load `version` (default: highest) and swap it in; on any failure the old version keeps serving."""
        async with self._lock:
            current = self.current.get(name)
            try:
                chosen = self.pick_version(name, version)
                if current is not None and current.version == chosen and not force:
                    return current
                loaded = await asyncio.get_running_loop().run_in_executor(None, self._build, name, chosen)
            except (ModelRejected, ProviderError) as exc:
                reason = getattr(exc, "reason", "provider")
                if reason == "not_found" and not version:
                    raise  # nothing there yet: waiting, not refused
                self.refused[name] = {
                    "version": version or "latest",
                    "reason": reason,
                    "error": f"{self.store.setting}: {exc}",
                    "at": utc_now_iso(),
                }
                _log.error(
                    "model version refused", model=name, version=version, reason=reason, error=str(exc)
                )
                raise
            loaded.batcher.start()
            self.current[name] = loaded  # from here on, new requests go to the new version
            self.refused.pop(name, None)
            _log.info("model in service", model=name, version=loaded.version, provider=loaded.report.primary)
            if current is not None:
                task = asyncio.get_running_loop().create_task(self._retire(current))
                self._retiring.add(task)
                task.add_done_callback(self._retiring.discard)
            return loaded

    async def load_shadow(self, name: str, version: str) -> LoadedModel:
        """Load `version` as the candidate beside the active one (its own session, batcher and thread)."""
        current = self.shadows.get(name)
        if current is not None and current.version == version:
            return current
        self.pick_version(name, version)
        loaded = await asyncio.get_running_loop().run_in_executor(None, self._build, name, version)
        loaded.batcher.start()
        self.shadows[name] = loaded
        if current is not None:
            await self._retire(current)
        _log.info("shadow candidate loaded", model=name, version=version)
        return loaded

    async def drop_shadow(self, name: str) -> None:
        old = self.shadows.pop(name, None)
        if old is not None:
            await self._retire(old)

    async def submit_to(self, loaded: LoadedModel, item: Any) -> Any:
        """Run one request on a given version (a shadow candidate): no resubmission on a swap."""
        prepare = loaded.prepare if loaded.inline else None
        if prepare is not None:
            item = await asyncio.get_running_loop().run_in_executor(self._pre_pool, prepare, item)
        return await loaded.batcher.submit(item)

    async def _retire(self, old: LoadedModel) -> None:
        await old.batcher.close()  # requests already queued on the old version finish there
        old.executor.shutdown(wait=False)
        _log.info("model version retired", model=old.name, version=old.version)

    async def submit(self, name: str, item: Any) -> tuple[LoadedModel, Any]:
        """Run one request on the version in service; one caught by a swap is resubmitted, never lost.

        A processor with a `prepare` step (frames: decode + letterbox) prepares raw requests in the batch's
        own thread (with the shared pool), so no request hops through a thread and back before queueing;
        an inline batcher (the event loop runs its batches) has them prepared in the pool first. BadInput
        from it stays with this request.
        """
        loop = asyncio.get_running_loop()
        while True:
            loaded = self.current.get(name)
            if loaded is None:
                raise ModelRejected("not_loaded", f"model {name!r} is not loaded")
            prepare = loaded.prepare if loaded.inline else None
            request = item if prepare is None else await loop.run_in_executor(self._pre_pool, prepare, item)
            try:
                return loaded, await loaded.batcher.submit(request)
            except BatcherClosed:  # swapped while preparing or queueing: prepare again for the new one
                await asyncio.sleep(0)

    async def submit_many(self, name: str, items: list[Any]) -> list[tuple[LoadedModel, Any] | BaseException]:
        """Several requests of one message, each answered in its place (an error stays with its item).

        An inline model runs them as one batch; an item caught by a swap goes again on its own.
        """
        loaded = self.current.get(name)
        if loaded is None:
            raise ModelRejected("not_loaded", f"model {name!r} is not loaded")
        if not loaded.inline or loaded.prepare is not None:
            return list(await asyncio.gather(*(self.submit(name, i) for i in items), return_exceptions=True))
        try:
            results: list[Any] = await loaded.batcher.submit_many(items)
        except BatcherClosed:
            results = [BatcherClosed("swapped")] * len(items)
        out: list[tuple[LoadedModel, Any] | BaseException] = []
        for item, r in zip(items, results, strict=True):
            if isinstance(r, BatcherClosed):
                try:
                    out.append(await self.submit(name, item))
                except Exception as exc:
                    out.append(exc)
            else:
                out.append(r if isinstance(r, BaseException) else (loaded, r))
        return out

    def status(self) -> dict[str, Any]:
        """What is loaded and what was refused (for reported properties, getStatus and /health)."""
        return {
            "loaded": {name: m.describe() for name, m in self.current.items()},
            "shadow": {name: m.describe() for name, m in self.shadows.items()},
            "refused": dict(self.refused),
        }

    async def close(self) -> None:
        for loaded in [*self.current.values(), *self.shadows.values()]:
            await loaded.batcher.close()
            loaded.executor.shutdown(wait=False)
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)
        self._pre_pool.shutdown(wait=False)
