"""Device and module identities kept in the state directory: SAS keys, verification, module environments."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from edgeloop_dev.hub.errors import AuthError, ConfigError

IDENTITY_FILE = "identity.json"
DEFAULT_DEVICE_ID = "edgeloop-device"
DEFAULT_IOTHUB_HOSTNAME = "edgeloop-local.azure-devices.net"
WORKLOAD_API_VERSION = "2019-01-30"
SOCKET_PATH_LIMIT = 100  # sun_path is 108 bytes on Linux; keep a margin


@dataclass(frozen=True, slots=True)
class ModuleIdentity:
    """One module's credentials."""

    module_id: str
    key: str  # base64 primary key
    generation_id: str


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / "identity.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read(state_dir: Path) -> dict[str, Any]:
    path = state_dir / IDENTITY_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a JSON object")
    return data


def write_json_atomic(path: Path, data: object) -> None:
    """Write JSON to `path` through a temporary file and rename, so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


class IdentityStore:
    """The device id, IoT Hub host name and per-module keys under `state_dir/identity.json`."""

    def __init__(self, state_dir: Path, device_id: str | None = None) -> None:
        self.state_dir = state_dir
        with _locked(state_dir):
            data = _read(state_dir)
            changed = False
            if "deviceId" not in data or (device_id and data["deviceId"] != device_id):
                data["deviceId"] = device_id or DEFAULT_DEVICE_ID
                changed = True
            if "iotHubHostName" not in data:
                data["iotHubHostName"] = DEFAULT_IOTHUB_HOSTNAME
                changed = True
            data.setdefault("modules", {})
            if changed:
                write_json_atomic(state_dir / IDENTITY_FILE, data)
        self.device_id: str = data["deviceId"]
        self.iothub_hostname: str = data["iotHubHostName"]
        self._modules: dict[str, ModuleIdentity] = self._parse_modules(data)

    @staticmethod
    def _parse_modules(data: dict[str, Any]) -> dict[str, ModuleIdentity]:
        return {
            name: ModuleIdentity(name, str(m["key"]), str(m["generationId"]))
            for name, m in data.get("modules", {}).items()
        }

    def reload(self) -> None:
        """Re-read the file: identities may be created after the hub started."""
        with _locked(self.state_dir):
            self._modules = self._parse_modules(_read(self.state_dir))

    def get(self, module_id: str) -> ModuleIdentity | None:
        """Return a module's identity, re-reading the file once if it is unknown."""
        found = self._modules.get(module_id)
        if found is None:
            self.reload()
            found = self._modules.get(module_id)
        return found

    def ensure(self, module_id: str) -> ModuleIdentity:
        """Return the module's identity, creating a random key for it if needed."""
        if not module_id or "/" in module_id:
            raise ConfigError(f"invalid module id {module_id!r}")
        with _locked(self.state_dir):
            data = _read(self.state_dir)
            modules = data.setdefault("modules", {})
            if module_id not in modules:
                modules[module_id] = {
                    "key": base64.b64encode(secrets.token_bytes(32)).decode(),
                    "generationId": secrets.token_hex(8),
                }
                write_json_atomic(self.state_dir / IDENTITY_FILE, data)
            self._modules = self._parse_modules(data)
        return self._modules[module_id]

    def sign(self, module_id: str, data: bytes) -> bytes:
        """HMAC-SHA256 of `data` with the module's key (what the workload API's sign returns)."""
        ident = self.get(module_id)
        if ident is None:
            raise AuthError(f"unknown module {module_id!r}", 5)
        return hmac.new(base64.b64decode(ident.key), data, hashlib.sha256).digest()

    def verify_sas(self, module_id: str, password: bytes | None, now: float | None = None) -> None:
        """Check a SAS token for `module_id`; raise AuthError with the CONNACK code on any mismatch."""
        if password is None:
            raise AuthError("no password (SAS token) given", 4)
        ident = self.get(module_id)
        if ident is None:
            raise AuthError(f"module {module_id!r} has no identity on this device", 5)
        token = password.decode("utf-8", "replace")
        prefix = "SharedAccessSignature "
        if not token.startswith(prefix):
            raise AuthError("password is not a SharedAccessSignature token", 4)
        fields: dict[str, str] = {}
        for part in token[len(prefix) :].split("&"):
            k, _, v = part.partition("=")
            fields[k] = v
        try:
            sr_raw, sig, se = fields["sr"], unquote(fields["sig"]), fields["se"]
            expiry = int(se)
        except (KeyError, ValueError) as exc:
            raise AuthError("SAS token lacks sr, sig or se", 4) from exc
        expected_sr = f"{self.iothub_hostname}/devices/{self.device_id}/modules/{module_id}"
        if unquote(sr_raw).lower() != expected_sr.lower():
            raise AuthError("SAS token is for another resource", 5)
        if expiry <= (now if now is not None else time.time()):
            raise AuthError("SAS token has expired", 5)
        message = f"{quote(unquote(sr_raw), safe='')}\n{se}".encode()
        expected = base64.b64encode(self.sign(module_id, message)).decode()
        if not hmac.compare_digest(expected, sig):
            raise AuthError("SAS signature does not match the module key", 5)


def make_sas_token(store: IdentityStore, module_id: str, ttl: int = 3600) -> str:
    """Build a module SAS token the way the SDK does (for raw test clients and the load generator)."""
    sr = quote(f"{store.iothub_hostname}/devices/{store.device_id}/modules/{module_id}", safe="")
    se = str(int(time.time()) + ttl)
    sig = base64.b64encode(store.sign(module_id, f"{sr}\n{se}".encode())).decode()
    return f"SharedAccessSignature sr={sr}&sig={quote(sig, safe='')}&se={se}"


def _hub_info(state_dir: Path) -> dict[str, Any]:
    from edgeloop_dev.hub.client import read_hub_info

    return read_hub_info(state_dir)


def gateway_host(state_dir: Path, host: str | None = None) -> str:
    """The host modules connect to: the explicit one, else the last one the hub was started with."""
    if host:
        return host
    cfg = state_dir / "hub-host"
    return cfg.read_text().strip() if cfg.exists() else "127.0.0.1"


def workload_socket_path(state_dir: Path) -> Path | None:
    """The workload API's unix socket path, or None when the path is too long for sun_path."""
    path = state_dir.resolve() / "workload.sock"
    return path if len(str(path).encode()) < SOCKET_PATH_LIMIT else None


def module_environment(
    state_dir: str | Path,
    module: str,
    mode: str = "connection-string",
    host: str | None = None,
) -> dict[str, str]:
    """Environment a module needs for `create_from_edge_environment()`; creates its identity if needed.

    mode "connection-string": EdgeHubConnectionString + EdgeModuleCACertificateFile (as iotedgehubdev).
    mode "workload": the seven IOTEDGE_* variables; the workload URI is the hub's unix socket when the
    path is short enough, else its loopback HTTP address (the hub must then be running).
    mode "workload-http": the same, always with the loopback HTTP address.
    """
    from edgeloop_dev.hub.certs import ca_cert_path

    sdir = Path(state_dir)
    store = IdentityStore(sdir)
    ident = store.ensure(module)
    gw = gateway_host(sdir, host)
    if mode == "connection-string":
        cs = (
            f"HostName={store.iothub_hostname};GatewayHostName={gw};DeviceId={store.device_id};"
            f"ModuleId={module};SharedAccessKey={ident.key}"
        )
        return {"EdgeHubConnectionString": cs, "EdgeModuleCACertificateFile": str(ca_cert_path(sdir))}
    if mode in ("workload", "workload-http"):
        sock = workload_socket_path(sdir) if mode == "workload" else None
        if sock is not None:
            uri = f"unix://{sock}"
        else:
            uri = str(_hub_info(sdir).get("workloadUri", ""))
            if not uri:
                raise ConfigError("the hub is not running, so its workload API address is unknown")
        return {
            "IOTEDGE_IOTHUBHOSTNAME": store.iothub_hostname,
            "IOTEDGE_DEVICEID": store.device_id,
            "IOTEDGE_MODULEID": module,
            "IOTEDGE_GATEWAYHOSTNAME": gw,
            "IOTEDGE_MODULEGENERATIONID": ident.generation_id,
            "IOTEDGE_WORKLOADURI": uri,
            "IOTEDGE_APIVERSION": WORKLOAD_API_VERSION,
            "IOTEDGE_AUTHSCHEME": "sasToken",
        }
    raise ConfigError(f"unknown module environment mode {mode!r}")
