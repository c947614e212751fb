"""node-opcua, an OPC UA server we did not write, as a fixture: one Node process per test on 127.0.0.x."""

from __future__ import annotations

import datetime as dt
import json
import queue
import random
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from edgeloop_dev.plant import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("nodeopcua") / "server.js"
NODE_OPCUA = ROOT / "node_modules" / "node-opcua"
NS_URI = "urn:edgeloop:nodeopcua:plant"
NOW = dt.datetime.now(dt.UTC)


class NodeOpcuaServer:
    """tests/opcua_ingest/nodeopcua/server.js in a child process: start, control over stdin, restart, stop."""

    def __init__(self, state: Path, host: str, **options: Any) -> None:
        self.state = state
        self.host = host
        self.port = free_port(host)
        self.options = options
        self.endpoint = f"opc.tcp://{host}:{self.port}"
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str] = queue.Queue()
        self._starts = 0
        self._log: IO[str] | None = None

    def start(self) -> None:
        """Start the server and wait for its `ready` line (node-opcua takes a few seconds to load)."""
        cfg = {"host": self.host, "port": self.port, "pki": str(self.state / "pki"), **self.options}
        self._starts += 1
        self._log = log = (self.state / f"server-{self._starts}.log").open("w")
        self._proc = subprocess.Popen(
            ["node", str(SCRIPT), json.dumps(cfg)], cwd=ROOT, text=True, bufsize=1,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
        )  # fmt: skip
        self._lines = queue.Queue()
        threading.Thread(target=self._read, args=(self._proc, self._lines), daemon=True).start()
        ready = self._reply(60.0, "its ready line")
        if not ready.get("ready"):
            self.stop()
            raise RuntimeError(f"node-opcua server did not start: {ready.get('error')}")

    @staticmethod
    def _read(proc: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("{"):
                lines.put(line)

    def _reply(self, timeout: float, what: str) -> dict[str, Any]:
        try:
            return dict(json.loads(self._lines.get(timeout=timeout)))
        except queue.Empty:
            raise TimeoutError(
                f"node-opcua server: no answer within {timeout} s waiting for {what}"
            ) from None

    def command(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Send one control command and return its answer."""
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self._proc.stdin.flush()
        reply = self._reply(10.0, f"the answer to {cmd}")
        assert reply.get("ok"), reply
        return reply

    def stop(self) -> None:
        """Stop the process this fixture started (by its PID), waiting for it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        for stream in (proc.stdin, proc.stdout, self._log):
            if stream is not None:
                stream.close()

    def restart(self) -> None:
        """A server restart: the process goes away and comes back on the same address and port."""
        self.stop()
        self.start()


class Ca:
    """A certificate authority that signs certificates and CRLs."""

    def __init__(self, name: str, parent: Ca | None = None) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        signer = parent or self
        self.cert = (
            x509.CertificateBuilder().subject_name(self.name).issuer_name(signer.name)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=1)).not_valid_after(NOW + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(signer.key, hashes.SHA256())
        )  # fmt: skip

    def server(self, uri: str = "urn:test:server") -> x509.Certificate:
        return self.server_with_key(uri)[0]

    def server_with_key(self, uri: str = "urn:test:server") -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
        """A server certificate (URI in the SAN) and its key, signed by this CA."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "server")]))
            .issuer_name(self.name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=1)).not_valid_after(NOW + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.KeyUsage(True, True, True, True, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )  # fmt: skip
        return cert, key

    def crl(self, *revoked: x509.Certificate) -> bytes:
        builder = x509.CertificateRevocationListBuilder().issuer_name(self.name).last_update(NOW)
        builder = builder.next_update(NOW + dt.timedelta(days=7))
        for cert in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(NOW)
                .build()
            )
        return builder.sign(self.key, hashes.SHA256()).public_bytes(Encoding.DER)


@pytest.fixture
def ca() -> type[Ca]:
    """The test certificate authority class: `ca("root")`, `ca("line", parent=root)`, `.server()`, `.crl()`."""
    return Ca


def _node_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed: the node-opcua tests need Node.js (20 or newer)"
    if not NODE_OPCUA.is_dir():
        pytest.fail("node is installed but node-opcua is not: run scripts/bootstrap (npm ci)")
    return None


@pytest.fixture
def node_server(tmp_path: Path) -> Iterator[NodeOpcuaServer]:
    """A node-opcua server on a random 127.0.0.x address and port, values changing every 100 ms."""
    reason = _node_missing()
    if reason:
        pytest.skip(reason)
    server = NodeOpcuaServer(tmp_path / "nodeopcua", f"127.0.0.{random.randint(2, 254)}", tickMs=100)
    server.state.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def secure_node_server(tmp_path: Path) -> Iterator[NodeOpcuaServer]:
    """The node-opcua server with every policy we speak in Sign and SignAndEncrypt, a user `operator`
    (password `s3cret`), and our client certificate accepted on first sight."""
    reason = _node_missing()
    if reason:
        pytest.skip(reason)
    server = NodeOpcuaServer(
        tmp_path / "nodeopcua", f"127.0.0.{random.randint(2, 254)}", tickMs=100, secure=True,
        users={"operator": "s3cret"},
    )  # fmt: skip
    server.state.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()
