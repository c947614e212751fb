// An OPC UA server we did not write: node-opcua, with values changing on a timer and real alarms.
//
// Started by tests/opcua_ingest/nodeopcua/harness.py. Configuration is one JSON argument:
//   {"host": "127.0.0.7", "port": 4840, "pki": "/tmp/pki", "tickMs": 100,
//    "users": {"operator": "secret"}, "secure": false, "allowAnonymous": true,
//    "certificateFile": "server.pem", "privateKeyFile": "server.key"}
// It prints one JSON line {"ready": true, "endpoint": "opc.tcp://..."} when listening, then answers control
// commands, one JSON object per stdin line, with one JSON line each on stdout:
//   {"cmd": "set", "name": "Level", "value": 95}       write a variable (alarms follow their input)
//   {"cmd": "terminateSubscriptions"}                   delete every subscription, keep every session
//   {"cmd": "freeze", "on": true}                       stop/restart the timer (no value changes at all)
//   {"cmd": "stats"}                                    sessions and subscriptions right now
//   {"cmd": "condition"}                                LevelAlarm as the server records it: its current
//                                                       EventId (base64), acked/confirmed, last comment and
//                                                       how many Acknowledge/Confirm calls it took
"use strict";

const path = require("path");
const opcua = require("node-opcua");

const NS_URI = "urn:edgeloop:nodeopcua:plant";

async function main() {
  const cfg = JSON.parse(process.argv[2] || "{}");
  const users = cfg.users || {};
  const certificateManager = new opcua.OPCUACertificateManager({
    automaticallyAcceptUnknownCertificate: cfg.autoAccept !== false,
    rootFolder: path.join(cfg.pki, "server"),
  });
  await certificateManager.initialize();
  const userCertificateManager = new opcua.OPCUACertificateManager({
    automaticallyAcceptUnknownCertificate: false,
    rootFolder: path.join(cfg.pki, "users"),
  });
  await userCertificateManager.initialize();
  const secure = !!cfg.secure;
  const server = new opcua.OPCUAServer({
    port: cfg.port,
    host: cfg.host,
    hostname: cfg.host,
    resourcePath: "",
    serverCertificateManager: certificateManager,
    // A certificate issued by a test CA instead of the self-signed one node-opcua makes (trust list tests).
    ...(cfg.certificateFile ? { certificateFile: cfg.certificateFile, privateKeyFile: cfg.privateKeyFile } : {}),
    userCertificateManager,
    allowAnonymous: cfg.allowAnonymous !== false,
    securityPolicies: secure
      ? [
          opcua.SecurityPolicy.None,
          opcua.SecurityPolicy.Basic256Sha256,
          opcua.SecurityPolicy.Aes128_Sha256_RsaOaep,
          opcua.SecurityPolicy.Aes256_Sha256_RsaPss,
        ]
      : [opcua.SecurityPolicy.None],
    securityModes: secure
      ? [opcua.MessageSecurityMode.None, opcua.MessageSecurityMode.Sign, opcua.MessageSecurityMode.SignAndEncrypt]
      : [opcua.MessageSecurityMode.None],
    userManager: {
      isValidUser: (name, password) => Object.prototype.hasOwnProperty.call(users, name) && users[name] === password,
    },
    buildInfo: { productName: "edgeloop node-opcua test plant", buildNumber: "1" },
    serverInfo: { applicationUri: "urn:edgeloop:nodeopcua:server", productUri: "urn:edgeloop:nodeopcua" },
  });
  await server.initialize();

  const addressSpace = server.engine.addressSpace;
  addressSpace.installAlarmsAndConditionsService(); // binds ConditionRefresh, Acknowledge, Confirm...
  const ns = addressSpace.registerNamespace(NS_URI);
  const serverObject = addressSpace.rootFolder.objects.server;
  const plant = ns.addObject({
    browseName: "Plant",
    nodeId: "s=Plant",
    organizedBy: addressSpace.rootFolder.objects,
    eventNotifier: 1, // SubscribeToEvents
    notifierOf: serverObject,
  });
  const values = { Temperature: 20.0, Counter: 0, Level: 50.0, Vector: [1.0, 2.0, 3.0, 4.0] };
  const types = {
    Temperature: opcua.DataType.Double,
    Counter: opcua.DataType.Int32,
    Level: opcua.DataType.Double,
    Vector: opcua.DataType.Double,
  };
  const variables = {};
  for (const name of Object.keys(values)) {
    const isArray = Array.isArray(values[name]);
    variables[name] = ns.addVariable({
      componentOf: plant,
      browseName: name,
      nodeId: `s=${name}`,
      dataType: types[name],
      valueRank: isArray ? 1 : -1,
      arrayDimensions: isArray ? [values[name].length] : null,
      accessLevel: "CurrentRead | CurrentWrite",
      userAccessLevel: "CurrentRead | CurrentWrite",
      minimumSamplingInterval: 10,
      eventSourceOf: name === "Level" ? plant : undefined,
      value: new opcua.Variant({
        dataType: types[name],
        arrayType: isArray ? opcua.VariantArrayType.Array : opcua.VariantArrayType.Scalar,
        value: isArray ? new Float64Array(values[name]) : values[name],
      }),
    });
  }
  const set = (name, value) => {
    values[name] = value;
    const isArray = Array.isArray(value);
    variables[name].setValueFromSource(
      new opcua.Variant({
        dataType: types[name],
        arrayType: isArray ? opcua.VariantArrayType.Array : opcua.VariantArrayType.Scalar,
        value: isArray ? new Float64Array(value) : value,
      }),
      opcua.StatusCodes.Good,
      new Date(),
    );
  };
  // A real alarm: LevelAlarm (ExclusiveLimitAlarmType) watches Level; HighHigh 90, High 80, Low 20, LowLow 10.
  const alarm = ns.instantiateExclusiveLimitAlarm("ExclusiveLimitAlarmType", {
    browseName: "LevelAlarm",
    nodeId: "s=LevelAlarm",
    componentOf: plant,
    conditionSource: variables.Level,
    conditionName: "LevelAlarm",
    inputNode: variables.Level,
    highHighLimit: 90.0,
    highLimit: 80.0,
    lowLimit: 20.0,
    lowLowLimit: 10.0,
    optionals: ["ConfirmedState", "Confirm"],
  });
  alarm.setEnabledState(true);
  const taken = { acknowledgeCalls: 0, confirmCalls: 0 }; // the server's own record of A&C method calls
  alarm.on("acknowledged", () => (taken.acknowledgeCalls += 1));
  alarm.on("confirmed", () => (taken.confirmCalls += 1));

  let frozen = false;
  let tick = 0;
  const timer = setInterval(() => {
    if (frozen) return;
    tick += 1;
    set("Temperature", 20.0 + (tick % 100) / 10.0);
    set("Counter", tick);
  }, cfg.tickMs || 100);

  await server.start();
  const endpoint = server.getEndpointUrl();
  process.stdout.write(JSON.stringify({ ready: true, endpoint, namespace: NS_URI }) + "\n");

  const sessions = () => server.engine.getSessions();
  const commands = {
    set: (c) => {
      set(c.name, c.value);
      return { ok: true };
    },
    freeze: (c) => {
      frozen = !!c.on;
      return { ok: true };
    },
    terminateSubscriptions: () => {
      let deleted = 0;
      for (const session of sessions()) {
        for (const sub of session.publishEngine.subscriptions) {
          if (session.deleteSubscription(sub.id).isGood()) deleted += 1;
        }
      }
      return { ok: true, deleted, sessions: sessions().length };
    },
    condition: () => {
      const eventId = alarm.eventId.readValue().value.value;
      const comment = alarm.comment.readValue().value.value;
      return {
        ok: true,
        eventId: eventId ? Buffer.from(eventId).toString("base64") : null,
        active: alarm.activeState.getValue(),
        acked: alarm.ackedState.id.readValue().value.value,
        confirmed: alarm.confirmedState.id.readValue().value.value,
        comment: comment ? comment.text : null,
        ...taken,
      };
    },
    stats: () => ({
      ok: true,
      sessions: sessions().length,
      subscriptions: sessions().reduce((n, s) => n + s.currentSubscriptionCount, 0),
      alarmActive: alarm.activeState.getValue(),
      keepAliveCounts: sessions().flatMap((s) => s.publishEngine.subscriptions.map((sub) => sub.maxKeepAliveCount)),
    }),
  };
  let buffer = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      let reply;
      try {
        const c = JSON.parse(line);
        reply = commands[c.cmd] ? commands[c.cmd](c) : { ok: false, error: `unknown command ${c.cmd}` };
      } catch (err) {
        reply = { ok: false, error: String(err && err.message ? err.message : err) };
      }
      process.stdout.write(JSON.stringify(reply) + "\n");
    }
  });
  const stop = async () => {
    clearInterval(timer);
    await server.shutdown(0);
    process.exit(0);
  };
  process.stdin.on("end", stop);
  process.on("SIGTERM", stop);
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ ready: false, error: String(err && err.stack ? err.stack : err) }) + "\n");
  process.exit(1);
});
