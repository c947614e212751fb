"""Runs shadow candidates: loads them per `shadowVersions`, sends them a share of the real inputs after the
active result is answered, keeps the evaluation statistics, and judges automatic promotion."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any

from ..engine.manager import LoadedModel, ModelManager
from ..engine.processors import FrameResult, WindowResult
from ..errors import ModelRejected
from ..sensor.windows import Window
from ..settings import Settings
from .compare import Sampler, ShadowStats, class_agreement, frame_agreement, passes


class Shadows:
    """The candidates beside the active versions, and what they were measured to do."""

    def __init__(self, manager: ModelManager) -> None:
        self.manager = manager
        self.stats: dict[str, ShadowStats] = {}
        self.tasks: set[asyncio.Task[None]] = set()  # shadow requests in flight
        self._samplers: dict[str, Sampler] = {}
        self._passing_since: dict[str, float] = {}

    async def sync(self, settings: Settings) -> None:
        """Load the configured candidates, drop the others (a candidate that is now active is dropped)."""
        for name in list(self.manager.shadows):
            active = self.manager.current.get(name)
            wanted = settings.shadow_versions.get(name)
            if wanted is None or (active is not None and active.version == wanted):
                await self.manager.drop_shadow(name)
                self.stats.pop(name, None)
        for name, version in settings.shadow_versions.items():
            active = self.manager.current.get(name)
            if active is None or active.version == version:
                continue
            try:
                await self.manager.load_shadow(name, version)
            except ModelRejected as exc:
                self.manager.refused[f"{name}:shadow"] = {
                    "version": version,
                    "reason": exc.reason,
                    "error": str(exc),
                }
                continue
            self.manager.refused.pop(f"{name}:shadow", None)
            self._samplers[name] = Sampler(settings.shadow_share)
            stats = self.stats.get(name)
            if stats is None or (stats.active_version, stats.candidate_version) != (active.version, version):
                self.stats[name] = ShadowStats(active.version, version)

    def _pick(self, name: str) -> LoadedModel | None:
        """The candidate of `name` when this input is one of the share it sees."""
        candidate = self.manager.shadows.get(name)
        sampler = self._samplers.get(name)
        if candidate is None or sampler is None or not sampler.take():
            return None
        return candidate

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def frame(self, name: str, image: bytes, active: FrameResult, active_ms: float) -> None:
        """Maybe run this frame on the candidate too (in the background)."""
        candidate = self._pick(name)
        if candidate is not None:
            self._spawn(self._frame(candidate, image, active, active_ms))

    def window(self, name: str, w: Window, active: WindowResult, active_ms: float) -> None:
        """Maybe score this window with the candidate too (in the background)."""
        candidate = self._pick(name)
        if candidate is not None:
            self._spawn(self._window(candidate, w, active, active_ms))

    async def _run(self, candidate: LoadedModel, item: Any) -> tuple[ShadowStats, Any, float] | None:
        stats = self.stats.get(candidate.name)
        t0 = time.perf_counter()
        try:
            result = await self.manager.submit_to(candidate, item)
        except Exception:  # the candidate's failures are measured, never seen by the active path
            if stats is not None:
                stats.errors += 1
            return None
        if stats is None or stats.candidate_version != candidate.version:
            return None
        return stats, result, (time.perf_counter() - t0) * 1000

    async def _frame(
        self, candidate: LoadedModel, image: bytes, active: FrameResult, active_ms: float
    ) -> None:
        done = await self._run(candidate, image)
        if done is None:
            return
        stats, result, ms = done
        stats.candidate_ms.append(ms)
        stats.active_ms.append(active_ms)
        if active.classes or result.classes:
            stats.agreements.append(class_agreement(active.classes, result.classes))
        else:
            stats.agreements.append(frame_agreement(active.detections, result.detections))

    async def _window(
        self, candidate: LoadedModel, w: Window, active: WindowResult, active_ms: float
    ) -> None:
        done = await self._run(candidate, w)
        if done is None:
            return
        stats, result, ms = done
        stats.candidate_ms.append(ms)
        stats.active_ms.append(active_ms)
        stats.pairs.append((active.score, result.score))

    def take_summaries(self) -> list[dict[str, Any]]:
        """One model-evaluation summary per candidate that saw inputs; the periods restart."""
        out = []
        for name, stats in list(self.stats.items()):
            if stats.samples == 0:
                continue
            out.append(stats.summary(name))
            self.stats[name] = ShadowStats(stats.active_version, stats.candidate_version)
        return out

    def due_for_promotion(self, summary: dict[str, Any], now: float, s: Settings) -> bool:
        """Automatic promotion: the thresholds held in every summary for shadowPromoteAfterSeconds."""
        name = summary["model"]
        if not s.shadow_auto_promote:
            return False
        if not passes(summary, s.shadow_min_samples, s.shadow_min_agreement, s.shadow_max_latency_ratio):
            self._passing_since.pop(name, None)
            return False
        since = self._passing_since.setdefault(name, now - s.shadow_summary_seconds)
        return now - since >= s.shadow_promote_after_seconds

    def promoted(self, name: str) -> None:
        """A promotion happened: the clock of automatic promotion restarts."""
        self._passing_since.pop(name, None)
