"""opcua_ingest against node-opcua, a server we did not write: value changes, a server that drops every
subscription while keeping its sessions (the subscription watchdog), and a server restart."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import ExtendedKeyUsageOID

from edgeloop_opcua import Pki
from edgeloop_runtime.alarms import ActiveAlarms, alarms_in
from opcua_ingest.opcua import EndpointSession
from opcua_ingest.publishednodes import parse_published_nodes
from opcua_ingest.service import IngestPipeline

NSU = "nsu=urn:edgeloop:nodeopcua:plant"


def entry(endpoint: str, *names: str, publishing_ms: int = 100, **extra: Any) -> dict[str, Any]:
    return {
        "EndpointUrl": endpoint,
        "DataSetWriterId": "line1",
        "DataSetPublishingInterval": publishing_ms,
        "OpcNodes": [{"Id": f"{NSU};s={n}", "DisplayName": n, "OpcSamplingInterval": 50} for n in names],
        **extra,
    }


class Ingest:
    """One endpoint session feeding a pipeline whose network messages land in `messages`."""

    def __init__(self, session: EndpointSession, pipeline: IngestPipeline) -> None:
        self.session = session
        self.pipeline = pipeline
        self.messages: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()

    def values(self, name: str) -> list[dict[str, Any]]:
        return [d["Payload"][name] for m in self.messages for d in m["Messages"] if name in d["Payload"]]

    async def until(self, what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
        """Wait for `check()` to hold, saying what was awaited when it never does."""
        deadline = time.monotonic() + timeout
        while not check():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"waited {timeout} s for {what}; state {self.session.status.report()}")
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), min(left, 0.5))


@contextlib.asynccontextmanager
async def ingest(
    tmp_path: Path, doc: list[dict[str, Any]], auto_accept: bool = True, **session_args: Any
) -> AsyncIterator[Ingest]:
    plan = parse_published_nodes(doc)
    box: list[Ingest] = []

    async def send(msg: dict[str, Any]) -> None:
        box[0].messages.append(msg)
        box[0].arrived.set()

    pipeline = IngestPipeline(
        send, publisher_id="test", max_bytes=250_000, flush_interval_s=0.1, queue_size=10_000,
        flush_on_response=True,
    )  # fmt: skip
    session = EndpointSession(
        plan.endpoints[0], pipeline, Pki(tmp_path / "pki", "opcua_ingest", auto_accept=auto_accept),
        min_backoff_s=0.2, max_backoff_s=1.0, **session_args,
    )  # fmt: skip
    box.append(Ingest(session, pipeline))
    tasks = [asyncio.create_task(pipeline.run()), asyncio.create_task(session.run())]
    try:
        yield box[0]
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_value_changes_of_a_node_opcua_server_arrive_as_part14_messages(
    node_server: Any, tmp_path: Path
) -> None:
    doc = [entry(node_server.endpoint, "Temperature", "Counter")]
    async with ingest(tmp_path, doc) as ing:
        await ing.until("five Counter values", lambda: len(ing.values("Counter")) >= 5)
    counters = [v["Value"] for v in ing.values("Counter")]
    assert counters == sorted(counters) and len(set(counters)) == len(counters), counters
    assert all("StatusCode" not in v for v in ing.values("Temperature")), "Good values carry no status"
    assert ing.messages[0]["MessageType"] == "ua-data"
    assert ing.messages[0]["Messages"][0]["DataSetWriterId"] == "line1"


@pytest.mark.parametrize("behavior", ["Reset", "FailFast"])
async def test_a_subscription_dropped_by_the_server_is_recreated_by_the_watchdog(
    node_server: Any, tmp_path: Path, behavior: str
) -> None:
    """node-opcua deletes every subscription but keeps the session: asyncua's publish loop then simply ends,
    and without a watchdog no value would ever come again (OPC Publisher's "data silently stops").
    Reset recreates the subscription on the same session; FailFast recreates the session."""
    doc = [entry(node_server.endpoint, "Counter", DataSetWriterWatchdogBehavior=behavior)]
    async with ingest(tmp_path, doc, keepalive_s=1.0, watchdog_margin_s=1.0) as ing:
        await ing.until("the first Counter values", lambda: len(ing.values("Counter")) >= 3)
        assert ing.session.status.watchdog_resets == 0
        reply = node_server.command("terminateSubscriptions")
        assert reply["deleted"] == 1 and reply["sessions"] == 1, reply
        before = len(ing.values("Counter"))
        await ing.until(
            "Counter values after the watchdog fired",
            lambda: (
                ing.session.status.watchdog_resets == 1
                and any("StatusCode" not in v for v in ing.values("Counter")[before + 1 :])
            ),
        )
        assert node_server.command("stats")["sessions"] == 1, "one session carried on"
    values = ing.values("Counter")[before:]
    assert values[0]["StatusCode"]["Symbol"] == "BadNoCommunication", "the gap is marked Bad first"
    if behavior == "Reset":
        assert ing.session.status.reconnects == 0 and "silent" in (ing.session.status.last_error or "")
    else:
        assert ing.session.status.reconnects == 1


async def test_values_resume_after_a_server_restart(node_server: Any, tmp_path: Path) -> None:
    doc = [entry(node_server.endpoint, "Counter")]
    before = 0

    def resumed() -> list[dict[str, Any]]:
        after = ing.values("Counter")[before:]
        gaps = [i for i, v in enumerate(after) if "StatusCode" in v]
        return [v for v in after[gaps[0] + 1 :] if "StatusCode" not in v] if gaps else []

    async with ingest(tmp_path, doc) as ing:
        await ing.until("the first Counter values", lambda: len(ing.values("Counter")) >= 3)
        node_server.restart()
        before = len(ing.values("Counter"))
        await ing.until(
            "the gap, then Good Counter values from the restarted server", lambda: bool(resumed())
        )

    assert ing.session.status.reconnects >= 1


async def test_the_node_server_alarm_follows_its_input(node_server: Any) -> None:
    assert node_server.command("stats")["sessions"] == 0
    node_server.command("set", name="Level", value=95.0)
    assert node_server.command("stats")["alarmActive"] is True


async def test_attribute_id_and_index_range_against_node_opcua(node_server: Any, tmp_path: Path) -> None:
    doc = [{
        "EndpointUrl": node_server.endpoint, "DataSetWriterId": "line1", "DataSetPublishingInterval": 100,
        "OpcNodes": [
            {"Id": f"{NSU};s=Vector", "DataSetFieldId": "middle", "IndexRange": "1:2"},
            {"Id": f"{NSU};s=Counter", "DataSetFieldId": "name", "AttributeId": "DisplayName"},
        ],
    }]  # fmt: skip
    async with ingest(tmp_path, doc) as ing:
        await ing.until("both fields", lambda: bool(ing.values("middle") and ing.values("name")))
    assert ing.values("middle")[0]["Value"] == [2.0, 3.0], "only elements 1 and 2 of [1, 2, 3, 4]"
    assert ing.values("name")[0]["Value"] == "Counter", "the DisplayName attribute, not the value"


async def test_use_security_without_a_policy_takes_the_most_secure_endpoint(
    secure_node_server: Any, tmp_path: Path
) -> None:
    """node-opcua ranks Aes256_Sha256_RsaPss with SignAndEncrypt highest (SecurityLevel 207)."""
    doc = [entry(secure_node_server.endpoint, "Counter", UseSecurity=True,
                 OpcAuthenticationMode="UsernamePassword", OpcAuthenticationUsername="operator",
                 OpcAuthenticationPassword="s3cret")]  # fmt: skip
    async with ingest(tmp_path, doc) as ing:
        await ing.until("Counter values over the secure channel", lambda: len(ing.values("Counter")) >= 2)
    assert ing.session.status.security == "Aes256_Sha256_RsaPss/SignAndEncrypt"


@pytest.mark.parametrize("mode", ["Sign", "SignAndEncrypt"])
@pytest.mark.parametrize("policy", ["Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"])
async def test_every_policy_in_sign_and_sign_and_encrypt(
    secure_node_server: Any, tmp_path: Path, policy: str, mode: str
) -> None:
    doc = [
        entry(
            secure_node_server.endpoint, "Counter", EndpointSecurityPolicy=policy, EndpointSecurityMode=mode
        )
    ]
    async with ingest(tmp_path, doc) as ing:
        await ing.until(f"Counter values with {policy}/{mode}", lambda: bool(ing.values("Counter")))
    assert ing.session.status.security == f"{policy}/{mode}"


ALARM_SELECT = [
    {"TypeDefinitionId": "i=2041", "BrowsePath": ["SourceName"]},
    {"TypeDefinitionId": "i=2041", "BrowsePath": ["Severity"]},
    {"TypeDefinitionId": "i=2041", "BrowsePath": ["Message"]},
    {"TypeDefinitionId": "i=2915", "BrowsePath": ["ActiveState", "Id"], "DisplayName": "Active"},
]


def alarm_entry(endpoint: str, event_filter: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"EndpointUrl": endpoint, "DataSetWriterId": "alarms", "DataSetPublishingInterval": 100,
             "OpcNodes": [{"Id": f"{NSU};s=Plant", "DisplayName": "Plant", "EventFilter": event_filter}]}]  # fmt: skip


def events(ing: Ingest) -> list[dict[str, Any]]:
    return [
        {k: v["Value"] for k, v in d["Payload"].items()}
        for m in ing.messages for d in m["Messages"] if d["MessageType"] == "ua-event"
    ]  # fmt: skip


async def test_a_node_opcua_alarm_arrives_as_part14_event_messages(node_server: Any, tmp_path: Path) -> None:
    doc = alarm_entry(node_server.endpoint, {"TypeDefinitionId": "i=2915", "SelectClauses": ALARM_SELECT})
    async with ingest(tmp_path, doc) as ing:
        await ing.until("the monitored items", lambda: ing.session.status.monitored_items == 1)
        node_server.command("set", name="Level", value=95.0)
        await ing.until("the alarm going active", lambda: any(e.get("Active") for e in events(ing)))
        node_server.command("set", name="Level", value=50.0)
        await ing.until("the alarm going inactive", lambda: events(ing)[-1].get("Active") is False)
    active = next(e for e in events(ing) if e["Active"])
    assert active["SourceName"].endswith("Level") and active["Severity"] > 0 and active["Message"]
    assert set(active) == {"SourceName", "Severity", "Message", "Active"}
    tracker = ActiveAlarms()
    alarms = [a for m in ing.messages for a in alarms_in(m)]
    first = next(i for i, a in enumerate(alarms) if a.active)
    tracker.update(alarms[first])
    assert [(a.asset, a.active) for a in tracker.of("alarms")] == [("alarms", True)], (
        "the shared contract reads it"
    )
    tracker.update(alarms[-1])
    assert tracker.of("alarms") == [], "and clears it when the alarm goes inactive"


async def test_condition_refresh_reports_an_alarm_that_was_active_before_the_connection(
    node_server: Any, tmp_path: Path
) -> None:
    node_server.command("set", name="Level", value=95.0)
    doc = alarm_entry(node_server.endpoint, {"TypeDefinitionId": "i=2915", "SelectClauses": ALARM_SELECT})
    async with ingest(tmp_path, doc) as ing:
        await ing.until(
            "the active alarm from ConditionRefresh", lambda: any(e.get("Active") for e in events(ing))
        )
    assert node_server.command("stats")["alarmActive"] is True, "nothing changed on the server meanwhile"


async def test_the_simple_event_filter_form_selects_the_base_event_fields(
    node_server: Any, tmp_path: Path
) -> None:
    doc = alarm_entry(node_server.endpoint, {"TypeDefinitionId": "i=2041"})
    async with ingest(tmp_path, doc) as ing:
        await ing.until("the monitored items", lambda: ing.session.status.monitored_items == 1)
        node_server.command("set", name="Level", value=5.0)
        await ing.until("the LowLow alarm", lambda: any(e.get("ActiveState/Id") for e in events(ing)))
    alarm = next(e for e in events(ing) if e.get("ActiveState/Id"))
    assert {"EventId", "EventType", "SourceName", "Time", "Message", "Severity", "ConditionName"} <= set(
        alarm
    )
    assert alarm["SourceName"].endswith("Level") and alarm["EventType"] == "i=9341", "ExclusiveLimitAlarmType"


async def test_an_x509_user_identity_is_accepted_once_the_server_trusts_it(
    secure_node_server: Any, tmp_path: Path
) -> None:
    """OPC Publisher's OpcAuthenticationMode Certificate: OpcAuthenticationUsername names the subject of a
    certificate in the user store. The server admits no anonymous user, so data proves the X.509 identity."""
    user = Pki(tmp_path / "pki", "opcua_ingest").user
    (user / "certs").mkdir(parents=True)
    (user / "private").mkdir()
    await setup_self_signed_certificate(
        user / "private" / "operator.pem", user / "certs" / "operator.der", "urn:edgeloop:user:operator",
        "localhost", [ExtendedKeyUsageOID.CLIENT_AUTH], {"commonName": "operator-x509"},
    )  # fmt: skip
    trusted = secure_node_server.state / "pki" / "users" / "trusted" / "certs"
    trusted.mkdir(parents=True, exist_ok=True)
    shutil.copy(user / "certs" / "operator.der", trusted / "operator.der")
    secure_node_server.options["allowAnonymous"] = False
    secure_node_server.restart()
    doc = [entry(secure_node_server.endpoint, "Counter", UseSecurity=True, OpcAuthenticationMode="Certificate",
                 OpcAuthenticationUsername="operator-x509")]  # fmt: skip
    async with ingest(tmp_path, doc) as ing:
        await ing.until("Counter values as the X.509 user", lambda: bool(ing.values("Counter")))
    (trusted / "operator.der").unlink()
    secure_node_server.restart()
    async with ingest(tmp_path, doc) as ing:
        await ing.until("the refusal of an untrusted user", lambda: ing.session.status.reconnects >= 1)
    assert "Bad" in (ing.session.status.last_error or ""), ing.session.status.last_error


async def test_a_server_certificate_from_a_trusted_ca_is_accepted_until_its_crl_revokes_it(
    secure_node_server: Any, tmp_path: Path, ca: Any
) -> None:
    """node-opcua presents a certificate issued by a plant CA; our trust list holds the CA only (no
    auto-accept). A CRL from that CA revoking the server certificate refuses the next connection."""
    root = ca("plant CA")
    cert, key = root.server_with_key("urn:edgeloop:nodeopcua:server")
    pem = secure_node_server.state / "server.pem"
    pem.write_bytes(cert.public_bytes(Encoding.PEM))
    (secure_node_server.state / "server.key").write_bytes(
        key.private_bytes(Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption())
    )
    secure_node_server.options.update(
        certificateFile=str(pem), privateKeyFile=str(secure_node_server.state / "server.key")
    )
    secure_node_server.restart()
    pki = Pki(tmp_path / "pki", "opcua_ingest")
    pki.trusted.mkdir(parents=True)
    (pki.trusted / "plant-ca.der").write_bytes(root.cert.public_bytes(Encoding.DER))
    doc = [entry(secure_node_server.endpoint, "Counter", EndpointSecurityPolicy="Basic256Sha256",
                 EndpointSecurityMode="SignAndEncrypt")]  # fmt: skip
    async with ingest(tmp_path, doc, auto_accept=False) as ing:
        await ing.until("Counter values over the CA-trusted channel", lambda: bool(ing.values("Counter")))
        (pki.trusted / "crl").mkdir()
        (pki.trusted / "crl" / "plant-ca.crl").write_bytes(root.crl(cert))
        secure_node_server.restart()
        await ing.until("the revoked server refused", lambda: ing.session.status.state == "securityRejected")
    assert "BadCertificateRevoked" in (ing.session.status.last_error or "")


async def test_keep_alive_data_set_messages_while_nothing_changes(node_server: Any, tmp_path: Path) -> None:
    """SendKeepAliveDataSetMessages: each subscription keep-alive becomes a `ua-keepalive` message."""
    doc = [entry(node_server.endpoint, "Counter", SendKeepAliveDataSetMessages=True)]
    async with ingest(tmp_path, doc, keepalive_s=1.0) as ing:
        await ing.until("the first Counter values", lambda: bool(ing.values("Counter")))
        node_server.command("freeze", on=True)

        def keepalives() -> list[dict[str, Any]]:
            return [d for m in ing.messages for d in m["Messages"] if d["MessageType"] == "ua-keepalive"]

        await ing.until("two keep-alive messages", lambda: len(keepalives()) >= 2)
    assert all(k["DataSetWriterId"] == "line1" and k["Payload"] == {} for k in keepalives())
    assert keepalives()[1]["SequenceNumber"] > keepalives()[0]["SequenceNumber"]


async def test_key_frames_from_node_opcua(node_server: Any, tmp_path: Path) -> None:
    """DataSetKeyFrameCount 3: Temperature and Counter change together every tick, Level never; every third
    data set message still carries Level, from its last known value."""
    doc = [entry(node_server.endpoint, "Temperature", "Counter", "Level", DataSetKeyFrameCount=3)]
    async with ingest(tmp_path, doc) as ing:

        def datasets() -> list[dict[str, Any]]:
            return [d for m in ing.messages for d in m["Messages"] if d["DataSetWriterId"] == "line1"]

        await ing.until("seven data set messages", lambda: len(datasets()) >= 7)
    kinds = [d["MessageType"] for d in datasets()[:7]]
    assert kinds == ["ua-keyframe", "ua-deltaframe", "ua-deltaframe"] * 2 + ["ua-keyframe"], kinds
    assert all("Level" in d["Payload"] for d in datasets()[:7] if d["MessageType"] == "ua-keyframe")
    assert not any("Level" in d["Payload"] for d in datasets()[1:3])


async def test_metadata_messages_describe_the_fields(node_server: Any, tmp_path: Path) -> None:
    """MetaDataUpdateTime: a `ua-metadata` message with each field's type as node-opcua declares it, then
    again at the interval."""
    doc = [entry(node_server.endpoint, "Counter", "Temperature", "Vector", MetaDataUpdateTime=500,
                 DataSetName="Line 1", DataSetDescription="the first line")]  # fmt: skip
    async with ingest(tmp_path, doc) as ing:

        def metadata() -> list[dict[str, Any]]:
            return [m for m in ing.messages if m["MessageType"] == "ua-metadata"]

        await ing.until("two metadata messages", lambda: len(metadata()) >= 2)
    first = metadata()[0]
    assert first["DataSetWriterId"] == "line1" and first["MetaData"]["Name"] == "Line 1"
    fields = {f["Name"]: f for f in first["MetaData"]["Fields"]}
    assert (
        fields["Counter"]["BuiltInType"],
        fields["Counter"]["DataType"],
        fields["Counter"]["ValueRank"],
    ) == (6, "i=6", -1)
    assert (fields["Temperature"]["BuiltInType"], fields["Vector"]["ValueRank"]) == (11, 1)
    assert metadata()[1]["MetaData"]["Fields"] == first["MetaData"]["Fields"], "the same description again"


async def test_cyclic_reads_sample_at_the_sampling_interval(node_server: Any, tmp_path: Path) -> None:
    """UseCyclicRead: Level never changes, yet it is read (and sent) every 200 ms; Counter stays monitored."""
    doc = [{"EndpointUrl": node_server.endpoint, "DataSetWriterId": "line1", "DataSetPublishingInterval": 100,
            "OpcNodes": [{"Id": f"{NSU};s=Level", "DisplayName": "Level", "UseCyclicRead": True,
                          "OpcSamplingInterval": 200},
                         {"Id": f"{NSU};s=Counter", "DisplayName": "Counter"}]}]  # fmt: skip
    async with ingest(tmp_path, doc) as ing:
        await ing.until("five Level reads", lambda: len(ing.values("Level")) >= 5)
        assert ing.session.status.monitored_items == 2
    assert {v["Value"] for v in ing.values("Level")} == {50.0}, "the same value, read again and again"
    assert ing.values("Counter"), "the monitored node beside it still flows"


async def test_late_monitored_items_fire_the_watchdog(node_server: Any, tmp_path: Path) -> None:
    """OpcNodeWatchdogTimespan: the server keeps the subscription alive with keep-alives but Counter stops
    changing (the timer frozen): after 1 s the items are late and the subscription is recreated."""
    doc = [entry(node_server.endpoint, "Counter", OpcNodeWatchdogTimespan="00:00:01")]
    async with ingest(tmp_path, doc) as ing:
        await ing.until("the first Counter values", lambda: len(ing.values("Counter")) >= 3)
        assert ing.session.status.watchdog_resets == 0, "values keep the items on time"
        node_server.command("freeze", on=True)
        await ing.until("the item watchdog", lambda: ing.session.status.watchdog_resets >= 1)
        node_server.command("freeze", on=False)
    assert "OpcNodeWatchdogTimespan" in (ing.session.status.last_error or "")
    assert ing.session.status.reconnects == 0, "the subscription was recreated, not the session"
