"""The plant simulator's OPC UA server: address space, 10 Hz update loop, guarded writable AI nodes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.binary_server_asyncio import BinaryServer

from .audit import WriteAudit
from .fastpath import install as install_fastpath
from .faults import FaultSchedule, fault_schedule
from .model import GOOD, LoadModel, PlantModel
from .security import PlantUserManager, ensure_server_certificate, pki_dirs, trust_validator
from .stats import STATS_FILE, UpdateStats
from .tags import (
    AI_TAGS,
    DCS_TAGS,
    INITIAL_SETPOINTS,
    NAMESPACE_URI,
    PERMISSIVE_TAG,
    PROCESS_TAGS,
    TagSpec,
    load_tags,
)

_log = logging.getLogger(__name__)

Security = Literal["none", "sign-encrypt", "all"]
SCHEDULE_FILE = "plant-faults.json"
_VTYPES = {
    "Double": ua.VariantType.Double,
    "Boolean": ua.VariantType.Boolean,
    "String": ua.VariantType.String,
    "Int32": ua.VariantType.Int32,
}
_ADMIN = User(role=UserRole.Admin)
_INITIAL: dict[str, Any] = {"Double": 0.0, "Boolean": False, "String": "", "Int32": 0}


@dataclass(frozen=True)
class PlantOptions:
    """How to run the plant; `tags=None` means 1000 load tags for the `load` scenario, else none."""

    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 4840
    seed: int = 1
    scenario: str = "demo"
    security: Security = "none"
    tags: int | None = None
    rate_hz: float = 10.0
    users: dict[str, str] | None = field(default=None, repr=False)
    strict_writes: bool = True  # refuse writes that carry a SourceTimestamp, like many PLCs do
    ai_permissive: bool = True  # initial value of the DCS's "AI writes allowed" tag
    hold_faults: bool = (
        False  # no fault until `start_faults()` (SIGUSR1 to `edgeloop plant`), times from then
    )

    @property
    def load_tag_count(self) -> int:
        """Number of extra benchmark tags."""
        if self.tags is not None:
            return self.tags
        return 1000 if self.scenario == "load" else 0


class PlantServer:
    """An asyncua server standing in for a DCS. `async with PlantServer(opts) as plant: ...`."""

    def __init__(self, options: PlantOptions) -> None:
        self.options = options
        self.schedule: FaultSchedule = fault_schedule(options.seed, options.scenario)
        self.model = PlantModel(self.schedule)
        self.load_model = LoadModel(options.load_tag_count, options.seed)
        self.audit = WriteAudit(options.state_dir)
        self.started_at: datetime | None = None
        self.ticks = 0
        self.stats = UpdateStats()
        self.ns = 0
        self._server: Server | None = None
        self._nodes: dict[str, ua.NodeId] = {}
        self._specs: dict[ua.NodeId, TagSpec] = {}
        self._load_ids: list[ua.NodeId] = []
        self._task: asyncio.Task[None] | None = None
        self._t0 = 0.0
        self._port = options.port

    @property
    def endpoint(self) -> str:
        """The endpoint URL clients connect to."""
        return f"opc.tcp://{self.options.host}:{self._port}"

    @property
    def server(self) -> Server:
        """The running asyncua server."""
        if self._server is None:
            raise RuntimeError("plant not started")
        return self._server

    def node_id(self, name: str) -> ua.NodeId:
        """The NodeId of a tag by name."""
        return self._nodes[name]

    async def __aenter__(self) -> PlantServer:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Build the address space, start listening and start the update loop."""
        opts = self.options
        install_fastpath()
        srv = Server(user_manager=PlantUserManager(opts.users))
        await srv.init()
        srv.set_endpoint(f"opc.tcp://{opts.host}:{opts.port}")
        srv.set_server_name("edgeloop plant simulator")
        await srv.set_application_uri("urn:edgeloop:plant:server")
        policies = {
            "none": [ua.SecurityPolicyType.NoSecurity],
            "sign-encrypt": [ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt],
            "all": [ua.SecurityPolicyType.NoSecurity, ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt],
        }[opts.security]
        srv.set_security_policy(policies)
        tokens: list[type] = [ua.UserNameIdentityToken]
        if not opts.users:
            tokens.insert(0, ua.AnonymousIdentityToken)
        srv.set_identity_tokens(tokens)
        _, trusted = pki_dirs(opts.state_dir)
        if opts.security != "none" or opts.users:
            cert, key = await ensure_server_certificate(opts.state_dir, opts.host)
            await srv.load_certificate(str(cert))
            await srv.load_private_key(str(key))
        if opts.security != "none":
            srv.set_certificate_validator(await trust_validator(trusted))
        self.ns = await srv.register_namespace(NAMESPACE_URI)
        await self._build_address_space(srv)
        self._wrap_writes(srv)
        await srv.start()
        self._server = srv
        if srv.bserver is not None:
            self._port = srv.bserver.port
        self._t0 = time.monotonic()
        if opts.hold_faults:
            self.model.faults_from = None
        else:
            self.started_at = datetime.now(UTC)
        self._write_schedule()
        self._task = asyncio.create_task(self._update_loop(), name="plant-update")
        _log.info("plant listening on %s (scenario %s, seed %d)", self.endpoint, opts.scenario, opts.seed)

    def start_faults(self) -> None:
        """Start the held fault schedule now: its times count from here (`startedAt` in the schedule file)."""
        if self._server is None or self.model.faults_from is not None:
            return  # not listening yet (no schedule file to go by), or already started: it keeps its zero
        self.model.faults_from = time.monotonic() - self._t0
        self.started_at = datetime.now(UTC)
        self._write_schedule()
        _log.info("faults started (scenario %s, seed %d)", self.options.scenario, self.options.seed)

    async def stop(self) -> None:
        """Stop the update loop and the server."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def outage(self, seconds: float) -> None:
        """Refuse connections for `seconds`: close every connection and the listening socket, then reopen."""
        srv = self.server
        if srv.bserver is not None:
            await srv.bserver.stop()
        await asyncio.sleep(seconds)
        bserver = BinaryServer(srv.iserver, self.options.host, self._port, srv.limits)
        bserver.set_policies(srv._policies)
        await bserver.start()
        srv.bserver = bserver

    def _write_schedule(self) -> None:
        started = (
            self.started_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            if self.started_at
            else None
        )
        doc = self.schedule.to_dict(started)
        doc["faultsHeld"] = self.model.faults_from is None
        doc["endpoint"] = self.endpoint
        doc["namespaceUri"] = NAMESPACE_URI
        doc["loadTags"] = self.options.load_tag_count
        path = self.options.state_dir / SCHEDULE_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")  # replaced whole: a reader waiting for it never sees half of it
        tmp.write_text(json.dumps(doc, indent=2), encoding="utf-8")
        tmp.replace(path)

    async def _build_address_space(self, srv: Server) -> None:
        objects = srv.nodes.objects
        folders: dict[str, Any] = {}
        for spec in (*PROCESS_TAGS, *AI_TAGS, *DCS_TAGS):
            folder_name = spec.name.rsplit(".", 1)[0]
            if folder_name not in folders:
                folders[folder_name] = await objects.add_folder(ua.NodeId(folder_name, self.ns), folder_name)
            nid = ua.NodeId(spec.name, self.ns)
            initial = INITIAL_SETPOINTS.get(spec.name, _INITIAL[spec.vtype])
            if spec.name == PERMISSIVE_TAG:
                initial = self.options.ai_permissive
            var = await folders[folder_name].add_variable(
                nid, spec.name, ua.Variant(initial, _VTYPES[spec.vtype])
            )
            await var.write_attribute(
                ua.AttributeIds.Description, ua.DataValue(ua.Variant(ua.LocalizedText(spec.description)))
            )
            if spec.vtype == "Double":
                await var.add_property(0, "EURange", ua.Range(Low=spec.lo, High=spec.hi))
                await var.add_property(0, "EngineeringUnits", spec.unit)
            if spec.writable:
                await var.set_writable()
            self._nodes[spec.name] = nid
            self._specs[nid] = spec
        if self.options.load_tag_count:
            folder = await objects.add_folder(ua.NodeId("Load", self.ns), "Load")
            for spec in load_tags(self.options.load_tag_count):
                nid = ua.NodeId(spec.name, self.ns)
                await folder.add_variable(nid, spec.name, ua.Variant(0.0, ua.VariantType.Double))
                self._nodes[spec.name] = nid
                self._load_ids.append(nid)

    def _wrap_writes(self, srv: Server) -> None:
        """Audit every client write; in strict mode refuse writes that carry a SourceTimestamp."""
        service = srv.iserver.attribute_service
        original = service.write

        async def write(params: ua.WriteParameters, user: User = _ADMIN) -> list[ua.StatusCode]:
            if user.role == UserRole.Admin:  # the server's own internal writes
                internal: list[ua.StatusCode] = await original(params, user)
                return internal
            results: list[ua.StatusCode] = []
            for wv in params.NodesToWrite:
                dv = wv.Value
                if self.options.strict_writes and dv is not None and dv.SourceTimestamp is not None:
                    status = ua.StatusCode(ua.StatusCodes.BadWriteNotSupported)
                else:
                    status = (await original(ua.WriteParameters(NodesToWrite=[wv]), user))[0]
                results.append(status)
                self._after_write(wv, status, user)
            return results

        service.write = write

    def _after_write(self, wv: ua.WriteValue, status: ua.StatusCode, user: User) -> None:
        spec = self._specs.get(wv.NodeId)
        variant = wv.Value.Value if wv.Value is not None else None
        value = variant.Value if variant is not None else None
        if status.is_good() and spec is not None and spec.name in self.model.setpoints and value is not None:
            self.model.setpoints[spec.name] = float(value)
        try:
            self.audit.record(
                node=spec.name if spec else wv.NodeId.to_string(),
                value=value,
                variant_type=variant.VariantType.name if variant is not None else "Null",
                status=status.name,
                writer=user.name or user.role.name.lower(),
                source_timestamp=wv.Value.SourceTimestamp if wv.Value is not None else None,
            )
        except OSError:
            _log.exception("could not append to the write audit trail")

    async def _update_loop(self) -> None:
        """One pass per tick: the process model, then every load tag from one numpy step."""
        srv = self.server
        write = srv.iserver.aspace.write_attribute_value  # what write_attribute_value calls, minus 2 hops
        value_attr = ua.AttributeIds.Value
        period = 1.0 / self.options.rate_hz
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        double = ua.VariantType.Double
        ids = {name: self._nodes[name] for name in PlantModel.tag_names()}
        statuses: dict[str, ua.StatusCode] = {GOOD: ua.StatusCode(ua.StatusCodes.Good)}
        good = statuses[GOOD]
        stats_at = loop.time() + 1.0
        while True:
            started = time.perf_counter()
            now = datetime.now(UTC)
            t = time.monotonic() - self._t0
            for name, s in self.model.step(t).items():
                code = statuses.get(s.status)
                if code is None:
                    code = statuses[s.status] = ua.StatusCode(getattr(ua.StatusCodes, s.status))
                value = ua.Variant(s.value, double) if s.status == GOOD or code.is_uncertain() else None
                await write(
                    ids[name], value_attr, ua.DataValue(value, code, SourceTimestamp=now, ServerTimestamp=now)
                )
            if self._load_ids:
                for nid, v in zip(self._load_ids, self.load_model.step(t), strict=True):
                    await write(
                        nid,
                        value_attr,
                        ua.DataValue(ua.Variant(v, double), good, SourceTimestamp=now, ServerTimestamp=now),
                    )
            self.stats.tick(time.perf_counter() - started, len(ids) + len(self._load_ids))
            self.ticks += 1
            if loop.time() >= stats_at:
                stats_at = loop.time() + 1.0
                self.stats.save(self.options.state_dir / STATS_FILE)
            next_at += period
            delay = next_at - loop.time()
            if delay < -period:  # fell behind: do not try to catch up in a burst
                next_at = loop.time()
                delay = 0.0
            await asyncio.sleep(max(delay, 0.0))
