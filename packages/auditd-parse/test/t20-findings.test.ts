import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runAuditdParse } from "./in-process";

// What the black-box try T20 found (items 4, 6, 3), each as a user meets it.

// SELinux userspace's avc_audit (libselinux, as systemd/dbus log it): the kernel AVC's text inside msg='…'
const USER_AVC =
  "node=h1 type=USER_AVC msg=audit(1700000001.000:11): pid=1 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:init_t:s0 " +
  `msg='avc:  denied  { start } for auid=1000 uid=0 gid=0 path="/usr/lib/systemd/system/foo.service" cmdline="" ` +
  "scontext=system_u:system_r:init_t:s0 tcontext=system_u:object_r:systemd_unit_file_t:s0 tclass=service permissive=1  " +
  `exe="/usr/lib/systemd/systemd" sauid=0 hostname=? addr=? terminal=?'\n`;
const POLICYLOAD =
  "type=USER_AVC msg=audit(1700000002.000:12): pid=1 uid=0 auid=4294967295 ses=4294967295 " +
  `msg='avc:  received policyload notice (seqno=2)  exe="/usr/lib/systemd/systemd" sauid=0 hostname=? addr=? terminal=?'\n`;

const lines = (out: string) =>
  out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

describe("USER_AVC (T20 item 4)", () => {
  it("gets seresult and seperms from its msg='avc: …' as a kernel AVC does, beside the inner pairs", async () => {
    const r = await runAuditdParse(["--json"], USER_AVC + POLICYLOAD);
    expect(r.code, r.stderr).toBe(0);
    const [denied, notice] = lines(r.stdout);
    expect(denied.records[0].fields).toMatchObject({
      seresult: "denied",
      seperms: "start",
      tclass: "service",
      path: "/usr/lib/systemd/system/foo.service",
      scontext: { type: "init_t" },
      tcontext: { type: "systemd_unit_file_t" },
    });
    expect(denied.records[0].text).toBe("avc: denied { start } for");
    // a notice grants or denies nothing: no seresult made of its words
    expect(notice.records[0].fields.seresult).toBeUndefined();
    expect(notice.records[0].fields.seperms).toBeUndefined();
  });

  it("ECS: auditd.data carries seresult and seperms, as auditbeat's auditd module names them for AVC", async () => {
    const r = await runAuditdParse(["--format", "ecs"], USER_AVC);
    const doc = JSON.parse(r.stdout);
    expect(doc.auditd.message_type).toBe("user_avc");
    expect(doc.auditd.data).toMatchObject({ seresult: "denied", seperms: "start", tclass: "service" });
  });

  it("detect: a Sigma rule on `seresult: denied` matches a USER_AVC", async () => {
    const rules = mkdtempSync(join(tmpdir(), "auditd-parse-t20-"));
    writeFileSync(
      join(rules, "denied.yml"),
      "title: SELinux denial\nid: t20-avc\nlogsource: {product: linux, service: auditd}\n" +
        "detection:\n  sel: {seresult: denied, tclass: service}\n  condition: sel\nlevel: low\n",
    );
    const r = await runAuditdParse(["detect", "--json", "--rules", rules], USER_AVC + POLICYLOAD);
    expect(r.code, r.stderr).toBe(0);
    const hits = lines(r.stdout);
    expect(hits.map((a) => a.event.serial)).toEqual([11]);
    expect(hits[0].records).toEqual(["USER_AVC"]);
  });
});

describe("--format text (T20 finding 9)", () => {
  it("says the denial of an AVC that follows the SYSCALL, as it does a USER_AVC's", async () => {
    const log =
      'type=SYSCALL msg=audit(1700000000.100:10): arch=c000003e syscall=257 success=no exit=-13 pid=100 auid=1000 uid=1000 comm="cat" exe="/usr/bin/cat"\n' +
      'type=AVC msg=audit(1700000000.100:10): avc:  denied  { read write } for  pid=100 comm="cat" name="shadow" scontext=a:b:c:s0 tcontext=d:e:f:s0 tclass=file permissive=0\n' +
      "type=EOE msg=audit(1700000000.100:10): \n";
    // the kernel's own order: AVC, SYSCALL, PROCTITLE (the detail is the command line)
    const kernel =
      'type=AVC msg=audit(1700000000.200:20): avc:  denied  { write } for  pid=7 comm="sh" name="x" scontext=a:b:c:s0 tcontext=d:e:f:s0 tclass=file permissive=0\n' +
      'type=SYSCALL msg=audit(1700000000.200:20): arch=c000003e syscall=257 success=no exit=-13 pid=7 auid=0 uid=0 comm="sh" exe="/bin/sh"\n' +
      "type=PROCTITLE msg=audit(1700000000.200:20): proctitle=7368002D63\n" +
      "type=EOE msg=audit(1700000000.200:20): \n";
    const r = await runAuditdParse(["--format", "text"], log + kernel + USER_AVC);
    const [syscall, proctitle, user] = r.stdout.trim().split("\n");
    expect(syscall).toMatch(/ openat=EACCES .* avc: denied \{ read write \} for$/);
    expect(proctitle).toMatch(/ sh -c avc: denied \{ write \} for$/);
    expect(user).toMatch(/ avc: denied \{ start \} for$/);
    expect(user!.match(/avc:/g)).toHaveLength(1);
  });
});

describe("node= names that are not UTF-8 (T20 item 3)", () => {
  // two hosts whose names differ only in a byte that is not UTF-8, under one stamp and serial, interleaved
  const log = Buffer.concat([
    Buffer.from('node=n\xe9 type=SYSCALL msg=audit(1700000000.000:5): syscall=2 pid=1 comm="a"\n', "latin1"),
    Buffer.from('node=n\xe8 type=SYSCALL msg=audit(1700000000.000:5): syscall=2 pid=2 comm="b"\n', "latin1"),
    Buffer.from('node=n\xe9 type=PATH msg=audit(1700000000.000:5): item=0 name="/a"\n', "latin1"),
    Buffer.from('node=n\xe8 type=PATH msg=audit(1700000000.000:5): item=0 name="/b"\n', "latin1"),
    // a name that is UTF-8, U+FFFD included, is its own host and has no nodeRaw
    Buffer.from('node=n\ufffd type=SYSCALL msg=audit(1700000000.000:5): syscall=2 pid=3 comm="c"\n', "utf8"),
  ]);

  it("are two hosts, grouped by the name's bytes, each keeping them as nodeRaw (hex)", async () => {
    const r = await runAuditdParse(["--json"], log);
    expect(r.code, r.stderr).toBe(0);
    const events = lines(r.stdout);
    expect(events.map((e) => [e.node, e.nodeRaw, e.pid, e.types])).toEqual([
      ["n\ufffd", "6EE9", "1", ["SYSCALL", "PATH"]],
      ["n\ufffd", "6EE8", "2", ["SYSCALL", "PATH"]],
      ["n\ufffd", undefined, "3", ["SYSCALL"]],
    ]);
    expect(events[0].records[1].fields.name).toBe("/a");
    expect(events[1].records[1].fields.name).toBe("/b");
  });

  it("names each event's host afresh when the plain output reuses event objects (one host's name never carried to the next event)", async () => {
    // events ended by EOE one after another: the NDJSON sink hands each event object back for the next one
    const event = (node: Buffer, serial: number) =>
      Buffer.concat([
        Buffer.from("node=", "latin1"),
        node,
        Buffer.from(` type=SYSCALL msg=audit(1700000000.000:${serial}): syscall=2 pid=${serial} comm="a"\n`, "latin1"),
        Buffer.from("node=", "latin1"),
        node,
        Buffer.from(` type=EOE msg=audit(1700000000.000:${serial}): \n`, "latin1"),
      ]);
    const bad = Buffer.from("n\xe9", "latin1");
    const good = Buffer.from("plain", "latin1");
    const reused = Buffer.concat([event(good, 1), event(bad, 2), event(good, 3), event(bad, 4), event(good, 5)]);
    const r = await runAuditdParse(["--json"], reused);
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stdout).map((e) => [e.node, e.nodeRaw, e.pid])).toEqual([
      ["plain", undefined, "1"],
      ["n\ufffd", "6EE9", "2"],
      ["plain", undefined, "3"],
      ["n\ufffd", "6EE9", "4"],
      ["plain", undefined, "5"],
    ]);
  });
});
