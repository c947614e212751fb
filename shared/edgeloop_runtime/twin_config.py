"""The twin's desired properties as the module's configuration: the start-up fallback order, patches
validated like the first document, and the last valid configuration kept for the next start."""

from __future__ import annotations

from typing import Any

from .client import HubClient
from .context import Context
from .envelope import utc_now_iso
from .errors import EdgeloopError
from .last_valid import LastValidConfig
from .logs import get_logger
from .metrics import Metrics
from .settings import build_settings, desired_overrides, merge_patch
from .spec import ModuleSpec

_log = get_logger(__name__)


class TwinConfig:
    """What the module runs on, and why: the desired document in force, its version and its state."""

    def __init__(
        self,
        module: ModuleSpec[Any, Any],
        env_values: dict[str, Any],
        ctx: Context[Any, Any],
        metrics: Metrics,
        last_valid: LastValidConfig,
    ) -> None:
        self.module = module
        self.env_values = env_values
        self.ctx = ctx
        self.metrics = metrics
        self.last_valid = last_valid
        self.desired: dict[str, Any] = {}
        self.desired_version: int | None = None
        self.state: dict[str, Any] = {"status": "defaults", "desiredVersion": None, "error": None}

    async def initial(self, client: HubClient) -> bool:
        """Apply the twin's desired properties on top of env; if they cannot be used, fall back safely.

        Fallback order: the last valid configuration persisted under STATE_DIR, else the module's
        fail-safe overrides, else the environment alone. False only if even that is refused.
        """
        twin_error: str | None = None
        try:
            twin = await client.get_twin()
        except EdgeloopError as exc:
            twin_error, twin = str(exc), {}
        desired = dict(twin.get("desired") or {})
        self.desired_version = desired.get("$version")
        self.desired = merge_patch({}, desired)
        if twin_error is None:
            try:
                settings = await self._validate(self.desired)
            except Exception as exc:
                reason = _reason(exc)
                self.metrics.config_updates.labels(result="refused").inc()
                self.ctx.record_error("config", reason)
                return await self._fall_back("refused", reason)
            self._commit(settings, self.desired, self.desired_version)
            return True
        return await self._fall_back("twin-unavailable", f"twin not available: {twin_error}")

    async def _fall_back(self, why: str, reason: str) -> bool:
        """Run the last valid configuration, else the fail-safe one, else env; one log line says which."""
        version = self.desired_version
        last = self.last_valid.load()
        if last is not None:
            try:
                settings = await self._validate(last.desired)
            except Exception as exc:
                _log.warning("the persisted last valid configuration is refused too", error=_reason(exc))
            else:
                self.ctx._replace_settings(settings)
                if why == "twin-unavailable":
                    self.desired = last.desired  # patches merge onto what is in force
                self._set_state(f"{why}-using-last-valid", version, reason, lastValidVersion=last.version)
                _log.error(
                    "desired properties not usable at start; running the last valid configuration",
                    cause=why,
                    version=version,
                    last_valid_version=last.version,
                    error=reason,
                )
                return True
        if self.module.fail_safe:
            try:
                settings = await self._validate_values(dict(self.module.fail_safe))
            except Exception as exc:
                _log.error("fail-safe configuration refused", error=_reason(exc))
                return False
            self.ctx._replace_settings(settings)
            self._set_state(f"{why}-using-fail-safe", version, reason, failSafe=self.module.fail_safe)
            _log.error(
                "desired properties not usable at start and no valid configuration was ever saved; "
                "the module started in its fail-safe configuration",
                cause=why,
                version=version,
                fail_safe=self.module.fail_safe,
                error=reason,
            )
            return True
        try:
            settings = await self._validate_values({})
        except Exception as exc:
            _log.error("invalid configuration", error=_reason(exc))
            return False
        self.ctx._replace_settings(settings)
        self._set_state(f"{why}-using-environment", version, reason)
        _log.error(
            "desired properties not usable at start and no valid configuration was ever saved; "
            "running on environment settings",
            cause=why,
            version=version,
            error=reason,
        )
        return True

    async def _validate(self, desired: dict[str, Any]) -> Any:
        """Settings from env + desired, accepted by every config hook; raises if refused."""
        return await self._validate_values(desired_overrides(self.module.settings_cls, desired))

    async def _validate_values(self, values: dict[str, Any]) -> Any:
        """Settings from env + values (by field name), accepted by every config hook; raises if refused."""
        settings = build_settings(self.module.settings_cls, self.env_values, values)
        for hook in self.module.config_hooks:
            await hook(self.ctx, settings)
        return settings

    def _set_state(self, status: str, version: int | None, error: str | None, **extra: Any) -> None:
        self.state = {
            "status": status,
            "desiredVersion": version,
            "error": error,
            "at": utc_now_iso(),
            **extra,
        }

    def _commit(self, settings: Any, desired: dict[str, Any], version: int | None) -> None:
        """Swap the settings in and persist the document as the last valid configuration."""
        self.ctx._replace_settings(settings)
        self.metrics.config_updates.labels(result="applied").inc()
        self._set_state("applied", version, None)
        self.last_valid.save(desired, version)
        _log.info("configuration applied", version=version)

    async def try_apply(self, desired: dict[str, Any], version: int | None) -> bool:
        """Validate a patched desired document, run the hooks, swap settings; report either way."""
        try:
            settings = await self._validate(desired)
        except Exception as exc:
            reason = _reason(exc)
            self.metrics.config_updates.labels(result="refused").inc()
            self._set_state("refused", version, reason)
            self.ctx.record_error("config", reason)
            _log.error(
                "desired properties refused; previous configuration stays", version=version, error=reason
            )
            await self.ctx.report({"config": self.state, "lastError": self.ctx.last_error})
            return False
        self._commit(settings, desired, version)
        await self.ctx.report({"config": self.state})
        return True

    async def apply_patch(self, patch: object) -> None:
        """A desired-properties patch merged onto the document in force and applied, unless the twin read
        at start (or an earlier patch) already held its version."""
        if not isinstance(patch, dict):
            return
        version = patch.get("$version")
        known = self.desired_version
        if isinstance(version, int) and isinstance(known, int) and version <= known:
            return
        candidate = merge_patch(self.desired, patch)
        if await self.try_apply(candidate, version if isinstance(version, int) else None):
            self.desired = candidate
            self.desired_version = version if isinstance(version, int) else self.desired_version


def _reason(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, EdgeloopError | ValueError) else f"{type(exc).__name__}: {exc}"
