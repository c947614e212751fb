"""The inference module's declaration: inputs `telemetry` and `frames`, outputs `scores` and `drift`, REST."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from edgeloop_contracts.evaluation import ModelEvaluation
from edgeloop_contracts.prediction import Prediction
from edgeloop_runtime import Context, InputMessage, MethodError, Module, get_logger

from .engine.gpu import gpu_samples
from .errors import ModelRejected
from .http.rest import make_app
from .models.delivery import Deliveries
from .service import InferenceService
from .settings import Settings
from .telemetry_metrics import InferenceMetrics

_log = get_logger(__name__)


@dataclass
class InferenceState:
    """The inference service (models, batchers, shadows) and the model deliveries it loads from."""

    service: InferenceService
    deliveries: Deliveries
    configured: bool = False  # at start nothing is refused: the module must come up


module = Module("inference", Settings, InferenceState)


def _svc(ctx: Context[Settings, InferenceState]) -> InferenceService:
    return ctx.state.service


@module.on_start
async def start(ctx: Context[Settings, InferenceState]) -> InferenceState:
    svc = InferenceService(ctx.settings, InferenceMetrics(ctx.metrics))
    ctx.exit_stack.push_async_callback(svc.manager.close)

    async def load_for_delivery(name: str) -> tuple[str | None, str | None]:
        try:
            loaded = await svc.load(name, svc.pinned(name))
        except ModelRejected as exc:
            current = svc.manager.current.get(name)
            return (current.version if current else None), str(exc)
        finally:
            await svc.sync_shadows(ctx.settings)  # a candidate may have been waiting for this version
            await ctx.report({"models": svc.status_patch()})
        return loaded.version, None

    deliveries = Deliveries(load_for_delivery, ctx.report)
    ctx.exit_stack.push_async_callback(deliveries.close)
    # nothing under MODEL_PATH yet, or a refused version: logged and reported, the module serves what it
    # can; ProviderError (requireGpu) is fatal: the module exits non-zero
    await svc.load_all(ctx.settings)

    async def emit(body: dict[str, Any]) -> None:
        output = ctx.settings.predictions_output
        if output:
            await ctx.send(output, Prediction.from_data(body))

    if ctx.settings.rest_port >= 0:
        runner = web.AppRunner(make_app(svc, emit), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, ctx.settings.rest_host, ctx.settings.rest_port)
        await site.start()
        ctx.exit_stack.push_async_callback(runner.cleanup)
        port = runner.addresses[0][1] if runner.addresses else ctx.settings.rest_port
        ctx.endpoints["rest"] = f"http://{ctx.settings.rest_host}:{port}"
        _log.info("REST server listening", port=port)
    await ctx.report({"models": svc.status_patch()})
    return InferenceState(svc, deliveries)


@module.on_config
async def configure(ctx: Context[Settings, InferenceState], settings: Settings) -> None:
    svc = ctx.state.service
    strict = ctx.state.configured  # at start nothing is refused: the module must come up
    try:
        await svc.load_all(settings, strict=strict)  # a refused pin raises: the patch is refused
    finally:
        ctx.state.configured = True
        await ctx.report({"models": svc.status_patch()})
    ctx.state.deliveries.apply(
        Path(settings.model_path),
        dict(settings.model_delivery),
        settings.model_retention,
        dict(settings.model_versions),
    )


@module.input("telemetry", queue_size=2000, overflow="block", concurrency=64)
async def on_telemetry(ctx: Context[Settings, InferenceState], msg: InputMessage) -> None:
    # UTF-8 bytes go straight to the shared PubSub decoder (typed, no dicts); another charset or gzip
    # is undone by msg.json() first; either way the contract's refusal is BadInput `bad_telemetry`
    utf8 = (msg.content_encoding or "utf-8").lower() in ("utf-8", "utf8")
    await _svc(ctx).on_telemetry(ctx, msg.data if utf8 else msg.json(), msg.message_id)


@module.input("frames", queue_size=64, overflow="drop_oldest", concurrency=32)
async def on_frames(ctx: Context[Settings, InferenceState], msg: InputMessage) -> None:
    await _svc(ctx).on_frame(ctx, msg.data, msg.properties, msg.message_id)


@module.method("reloadModels")
async def reload_models(ctx: Context[Settings, InferenceState], payload: Any) -> Any:
    """Re-read the repository: switch to the configured (or newest) version of each model."""
    svc = _svc(ctx)
    force = isinstance(payload, dict) and bool(payload.get("force"))
    names = [ctx.settings.sensor_model, ctx.settings.vision_model]
    results: dict[str, Any] = {}
    for name in names:
        if name not in svc.names():
            continue
        try:
            loaded = await svc.load(name, svc.pinned(name), force=force)
            results[name] = {"version": loaded.version, "provider": loaded.report.primary}
        except ModelRejected as exc:
            if name in svc.waiting:
                results[name] = {"waiting": svc.waiting[name]}
            else:
                results[name] = {"refused": exc.reason, "error": exc.detail}
    await ctx.report({"models": svc.status_patch()})
    if any("refused" in r for r in results.values()):
        raise MethodError(
            409, "a model version was refused; the previous version keeps serving", results=results
        )
    return {"models": results}


@module.method("promoteModel")
async def promote_model(ctx: Context[Settings, InferenceState], payload: Any) -> Any:
    """Make the shadow candidate (or `version`) of `model` (default: the vision model) the active version."""
    svc = _svc(ctx)
    body = payload if isinstance(payload, dict) else {}
    name = str(body.get("model") or ctx.settings.vision_model)
    version = body.get("version")
    try:
        loaded = await svc.promote(name, str(version) if version is not None else None)
    except ModelRejected as exc:
        raise MethodError(409, f"not promoted: {exc}", reason=exc.reason) from exc
    finally:
        await ctx.report({"models": svc.status_patch()})
    return {"model": name, "version": loaded.version}


@module.task
async def shadow_summaries(ctx: Context[Settings, InferenceState]) -> None:
    """Every shadowSummarySeconds: a model-evaluation summary per candidate on `evaluation`; automatic
    promotion when enabled and the thresholds held long enough."""
    svc = _svc(ctx)
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(ctx.settings.shadow_summary_seconds)
        for summary in svc.take_summaries():
            await ctx.send("evaluation", ModelEvaluation.from_data(summary))
            await ctx.report({"shadow": {summary["model"]: summary}})
            if svc.due_for_promotion(summary, loop.time()):
                try:
                    await svc.promote(summary["model"])
                except ModelRejected as exc:
                    _log.error("automatic promotion failed", model=summary["model"], error=str(exc))
                await ctx.report({"models": svc.status_patch()})


@module.task
async def model_watch(ctx: Context[Settings, InferenceState]) -> None:
    """Load a version as soon as it lands under MODEL_PATH (or the single file is replaced)."""
    svc = _svc(ctx)
    while ctx.settings.model_poll_seconds > 0:
        await asyncio.sleep(ctx.settings.model_poll_seconds)
        if await svc.watch_once():
            await ctx.report({"models": svc.status_patch()})


@module.task
async def gpu_monitor(ctx: Context[Settings, InferenceState]) -> None:
    svc = _svc(ctx)
    while True:
        samples = await asyncio.get_running_loop().run_in_executor(None, gpu_samples)
        if not samples:
            return  # no NVML here: nothing to watch
        for s in samples:
            gpu = str(int(s["index"]))
            svc.metrics.gpu_util.labels(gpu=gpu).set(s["util"] / 100.0)  # NVML gives percent
            svc.metrics.gpu_mem.labels(gpu=gpu).set(s["memory"])
            svc.metrics.gpu_temp.labels(gpu=gpu).set(s["temp"])
        await asyncio.sleep(ctx.settings.gpu_poll_seconds)


@module.status_provider
def status(ctx: Context[Settings, InferenceState]) -> dict[str, Any]:
    return {"models": ctx.state.service.status()}
