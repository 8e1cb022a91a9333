import { describe, expect, it } from "vitest";
import { parseText } from "../src/index";

// Named regression test for a decision a single-line break once slipped past the suite and the conformance
// run (issue 19): the node is part of the grouping key. A central log server receives every host's records,
// and hosts number their events independently, so two hosts can log the same timestamp and serial.

const stamp = "audit(1700000200.000:42)";
const log = [
  `node=web1 type=SYSCALL msg=${stamp}: arch=c000003e syscall=59 success=yes exit=0 pid=10 auid=1000 uid=1000 comm="id" exe="/usr/bin/id"`,
  `node=web2 type=SYSCALL msg=${stamp}: arch=c000003e syscall=59 success=yes exit=0 pid=20 auid=1001 uid=1001 comm="whoami" exe="/usr/bin/whoami"`,
  `node=db1 type=SYSCALL msg=${stamp}: arch=c000003e syscall=42 success=yes exit=0 pid=30 auid=0 uid=0 comm="psql" exe="/usr/bin/psql"`,
  `node=web1 type=EXECVE msg=${stamp}: argc=1 a0="id"`,
  `node=db1 type=SOCKADDR msg=${stamp}: saddr=02001538C00002010000000000000000`,
  `node=web2 type=EXECVE msg=${stamp}: argc=1 a0="whoami"`,
  `node=web2 type=EOE msg=${stamp}:`,
  `node=db1 type=EOE msg=${stamp}:`,
  `node=web1 type=EOE msg=${stamp}:`,
].join("\n");

const summary = (text: string) =>
  parseText(text)
    .events.map((e) => ({
      node: e.node,
      comm: e.comm,
      pid: e.pid,
      types: e.types,
      argv: e.argv,
      port: e.sockaddr && "port" in e.sockaddr ? e.sockaddr.port : undefined,
    }))
    .sort((a, b) => String(a.node).localeCompare(String(b.node)));

describe("auditd-parse regressions: the node is part of the grouping key", () => {
  const three = [
    { node: "db1", comm: "psql", pid: "30", types: ["SYSCALL", "SOCKADDR"], argv: undefined, port: 5432 },
    { node: "web1", comm: "id", pid: "10", types: ["SYSCALL", "EXECVE"], argv: ["id"], port: undefined },
    { node: "web2", comm: "whoami", pid: "20", types: ["SYSCALL", "EXECVE"], argv: ["whoami"], port: undefined },
  ];

  it("records of three hosts sharing one stamp, interleaved, are three events, each with only its own records", () => {
    expect(summary(log)).toEqual(three);
  });

  it("the same when each host's records arrive together, and without EOE records (completed at end of input)", () => {
    const lines = log.split("\n");
    const byHost = ["web1", "web2", "db1"].flatMap((h) => lines.filter((l) => l.startsWith(`node=${h} `)));
    expect(summary(byHost.join("\n"))).toEqual(three);
    expect(summary(lines.filter((l) => !l.includes("type=EOE")).join("\n"))).toEqual(three);
  });

  it("control: the same records without node= prefixes are one event (the stamp alone is the key then)", () => {
    const events = parseText(log.replace(/^node=\S+ /gm, "")).events;
    expect(events).toHaveLength(1);
  });
});
