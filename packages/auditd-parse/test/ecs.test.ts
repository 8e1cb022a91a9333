import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { EcsFlat } from "@elastic/ecs/build/commonjs/ecs_flat.js";
import { describe, expect, it } from "vitest";
import { ECS_VERSION, ecsAlert, toEcs } from "../src/ecs";
import type { AuditEvent } from "../src/event";
import { parseText } from "../src/parser";

// `--format ecs` against two references it did not write:
// - the ECS field definitions published by Elastic (@elastic/ecs): every field we emit exists there with the
//   type we give it, or is one of Auditbeat's own auditd fields (named in beats' auditbeat/module/auditd
//   _meta/fields.yml), or sits under auditd.* / labels.* (custom namespaces ECS leaves to the producer);
// - go-libaudit's expected output for its own test events (test/ecs/aucoalesce-cases.json, made by
//   scripts/gen-ecs-oracle.mjs): the library under Auditbeat names each event's action and ECS category/type.

type FieldDef = { type: string; normalize?: string[]; allowed_values?: { name: string }[] };
const require = createRequire(import.meta.url);
const ECS = EcsFlat as unknown as Record<string, FieldDef>;
const GOLDEN = new URL("golden/", import.meta.url).pathname;
const ORACLE = JSON.parse(readFileSync(new URL("ecs/aucoalesce-cases.json", import.meta.url), "utf8")) as {
  commit: string;
  cases: {
    file: string;
    name: string;
    lines: string[];
    expect: {
      category: string[];
      type: string[];
      action: string;
      result: string;
      actor: { primary?: string; secondary?: string };
      object: { type?: string; primary?: string; secondary?: string };
      how: string;
      user: { id?: string; name?: string };
      effective: { id?: string; name?: string };
      target: { id?: string; name?: string };
      tags: string[];
    };
  }[];
};

// Auditbeat's auditd module adds these user.* entities beyond ECS (auditbeat/module/auditd/_meta/fields.yml)
const AUDITBEAT_FIELDS =
  /^user\.(audit|saved|filesystem)\.(id|name|group\.id|group\.name)$|^user\.selinux\.(user|role|domain|level|category)$/;

// Where we and go-libaudit disagree, and why we are right. go-libaudit reads PATH's mode (st_mode, octal) into
// Go's os.FileMode, whose type bits are not st_mode's, so every path is a "file" to it (040755 is a directory).
const KNOWN_DIFFERENCES: Record<string, { ours: object; why: string }> = {
  "make-device": { ours: { type: "directory", primary: "/run/systemd/sessions/" }, why: "mode=040755 is a directory" },
  "mount syscall": { ours: { type: "directory", primary: "/run/user/0" }, why: "mode=040700 is a directory" },
};

function events(text: string, names = true): AuditEvent[] {
  // go-libaudit's expected output has ids only (Auditbeat names them later, with resolve_ids): no passwd here
  return parseText(text, { recordObjects: true, ...(names ? {} : { ids: { passwd: "/dev/null", group: "/dev/null" } }) }).events;
}

/** Every leaf of a document as [dotted name, value]; arrays of scalars are one leaf (ECS's array fields). */
function leaves(doc: unknown, prefix = ""): [string, unknown][] {
  if (doc === null || typeof doc !== "object" || (Array.isArray(doc) && doc.every((v) => typeof v !== "object"))) return [[prefix, doc]];
  if (Array.isArray(doc)) return [[prefix, doc]];
  return Object.entries(doc).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
}

function typeProblem(name: string, value: unknown): string | undefined {
  if (name.startsWith("auditd.") || name.startsWith("labels.")) {
    return name.startsWith("labels.") && typeof value !== "string" ? `${name}: labels are keywords` : undefined;
  }
  if (AUDITBEAT_FIELDS.test(name)) return typeof value === "string" ? undefined : `${name}: expected a string`;
  const def = ECS[name];
  if (!def) return `${name}: not an ECS field`;
  const values = Array.isArray(value) ? value : [value];
  if (Array.isArray(value) && !def.normalize?.includes("array")) return `${name}: ECS does not define it as an array`;
  for (const v of values) {
    const ok =
      def.type === "keyword" || def.type === "constant_keyword" || def.type === "wildcard" || def.type === "match_only_text"
        ? typeof v === "string"
        : def.type === "long"
          ? Number.isInteger(v)
          : def.type === "date"
            ? typeof v === "string" && !Number.isNaN(Date.parse(v))
            : def.type === "ip"
              ? typeof v === "string" && /^[\d.]+$|:/.test(v)
              : false;
    if (!ok) return `${name}: ${JSON.stringify(v)} is not a ${def.type}`;
    if (def.allowed_values && !def.allowed_values.some((a) => a.name === v)) return `${name}: ${JSON.stringify(v)} is not an allowed value`;
  }
  return undefined;
}

function problems(doc: Record<string, unknown>): string[] {
  return leaves(doc)
    .map(([name, value]) => typeProblem(name, value))
    .filter((p): p is string => p !== undefined);
}

describe("--format ecs: fields and types as ECS defines them", () => {
  const logs = readdirSync(GOLDEN).filter((f) => f.endsWith(".log"));
  const oracleText = ORACLE.cases.flatMap((c) => c.lines).join("\n");

  it("claims the ECS version of the definitions it is checked against", () => {
    const pkg = JSON.parse(readFileSync(join(require.resolve("@elastic/ecs/package.json")), "utf8")) as { version: string };
    expect(ECS_VERSION).toBe(pkg.version);
  });

  it.each(logs)("every field of every event of test/golden/%s is an ECS field of the right type", (log) => {
    const docs = events(readFileSync(join(GOLDEN, log), "utf8")).map((e) => toEcs(e, { hostName: "h1" }));
    expect(docs.length).toBeGreaterThan(0);
    expect(docs.flatMap(problems)).toEqual([]);
  });

  it("every field of go-libaudit's test events is an ECS field of the right type", () => {
    const docs = events(oracleText).map((e) => toEcs(e));
    expect(docs.length).toBeGreaterThanOrEqual(40);
    expect(docs.flatMap(problems)).toEqual([]);
  });

  it("the checker itself refuses a wrong type, an unknown field and a value ECS does not allow", () => {
    expect(problems({ process: { pid: "12" } })).toEqual(['process.pid: "12" is not a long']);
    expect(problems({ user: { shoe_size: "9" } })).toEqual(["user.shoe_size: not an ECS field"]);
    expect(problems({ event: { outcome: "fail" } })).toEqual(['event.outcome: "fail" is not an allowed value']);
    expect(problems({ event: { category: ["process", "nonsense"] } })).toEqual(['event.category: "nonsense" is not an allowed value']);
  });

  it("a detect alert is an ECS alert with the rule and its ATT&CK techniques", () => {
    const [event] = events(readFileSync(join(GOLDEN, readdirSync(GOLDEN).find((f) => f.endsWith(".log"))!), "utf8"));
    const doc = ecsAlert(event!, {
      id: "r-1",
      title: "Shell spawned",
      level: "high",
      rank: 3,
      tags: ["attack.execution", "attack.t1059.004"],
      attack: ["T1059.004"],
      author: "someone",
    });
    expect(problems(doc)).toEqual([]);
    expect(doc).toMatchObject({
      event: { kind: "alert", severity: 3 },
      rule: { id: "r-1", name: "Shell spawned", ruleset: "sigma", author: ["someone"] },
      threat: { framework: "MITRE ATT&CK", technique: { id: ["T1059"], subtechnique: { id: ["T1059.004"] } } },
    });
    expect(doc.tags).toEqual(expect.arrayContaining(["attack.t1059.004"]));
  });
});

describe("--format ecs names events as go-libaudit (Auditbeat) does", () => {
  it("has go-libaudit's cases to compare (an empty file would pass everything below)", () => {
    expect(ORACLE.cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(ORACLE.cases.map((c) => [`${c.file}: ${c.name}`, c] as const))("%s", (_name, c) => {
    const parsed = events(c.lines.join("\n"), false);
    expect(parsed).toHaveLength(1);
    const doc = toEcs(parsed[0]!) as {
      event: { category?: string[]; type?: string[]; action?: string; outcome: string };
      user?: { id?: string; name?: string; effective?: { id?: string; name?: string }; target?: { id?: string; name?: string } };
      auditd: { result: string; summary: { actor: object; object?: object; how?: string } };
      tags?: string[];
    };
    const e = c.expect;
    expect(doc.event.category ?? []).toEqual(e.category);
    expect(doc.event.type ?? []).toEqual(e.type);
    expect(doc.event.action ?? "").toBe(e.action);
    expect(doc.auditd.result).toBe(e.result);
    expect(doc.auditd.summary.actor).toEqual(e.actor);
    const known = KNOWN_DIFFERENCES[c.name];
    if (known) expect(doc.auditd.summary.object).toEqual(known.ours);
    else expect(doc.auditd.summary.object ?? {}).toEqual(e.object);
    expect(doc.auditd.summary.how ?? "").toBe(e.how);
    expect(doc.tags ?? []).toEqual(e.tags);
    // the ECS user entities go-libaudit derived from the summary (ids; names need the host's passwd)
    if (e.user.id !== undefined && e.user.id !== "unset") expect(doc.user?.id).toBe(e.user.id);
    if (e.effective.name !== undefined) expect(doc.user?.effective?.name).toBe(e.effective.name);
    if (e.target.name !== undefined) expect(doc.user?.target?.name).toBe(e.target.name);
  });
});

describe("--format ecs's summary", () => {
  it("keeps a hex-encoded value decoded when its hex is all digits (sudo's cmd=76692061 is 'vi a'), ids raw", () => {
    const object = (cmdHex: string) => {
      const line = `type=USER_CMD msg=audit(1764995001.100:961): pid=1 uid=0 auid=1000 ses=3 msg='cwd="/" cmd=${cmdHex} terminal=pts/0 res=success'`;
      const doc = toEcs(events(line)[0]!) as { auditd: { summary: { actor: { primary?: string }; object: { primary?: string } } } };
      return [doc.auditd.summary.object.primary, doc.auditd.summary.actor.primary];
    };
    expect(object(Buffer.from("vi a").toString("hex"))).toEqual(["vi a", "1000"]);
    expect(object(Buffer.from("cat a b").toString("hex"))).toEqual(["cat a b", "1000"]);
    expect(object(Buffer.from("ls -l").toString("hex"))).toEqual(["ls -l", "1000"]);
  });
});

describe("--format ecs from the command line (the built bundle)", () => {
  const BUNDLE = new URL("../dist/auditd-parse.cjs", import.meta.url).pathname;
  const run = (args: string[], input?: string | Buffer) => {
    const r = spawnSync(process.execPath, [BUNDLE, ...args], { input, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const docs = (stdout: string) =>
    stdout
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const exec = join(GOLDEN, "exec.log");
  const webRce = new URL("sigma/cases/lnx_auditd_web_rce/hit.log", import.meta.url).pathname;

  it("events: one ECS document per line, as many as the NDJSON events, every field valid", () => {
    const ecs = run(["--format", "ecs", exec]);
    const plain = run([exec]);
    expect(ecs.code, ecs.stderr).toBe(0);
    const out = docs(ecs.stdout);
    expect(out).toHaveLength(docs(plain.stdout).length);
    expect(out.every((d) => (d.event as { module: string }).module === "auditd")).toBe(true);
    expect(out.flatMap(problems)).toEqual([]);
  });

  it("detect --format ecs: alerts as ECS alerts, valid, with the rule", () => {
    const r = run(["detect", "--format", "ecs", webRce]);
    expect(r.code, r.stderr).toBe(0);
    const out = docs(r.stdout);
    expect(out.length).toBeGreaterThan(0);
    expect(out.map((d) => (d.event as { kind: string }).kind)).toEqual(out.map(() => "alert"));
    expect(out.some((d) => (d.rule as { id: string }).id === "c0d3734d-330f-4a03-aae2-65dacc6a8222")).toBe(true);
    expect(out.flatMap(problems)).toEqual([]);
  });

  it("plugin --format ecs: the audisp stream as ECS documents", () => {
    const r = run(["plugin", "--format", "ecs"], readFileSync(exec, "utf8"));
    expect(r.code, r.stderr).toBe(0);
    expect(docs(r.stdout).length).toBe(docs(run([exec]).stdout).length);
  });

  it("a format a command cannot write is a usage error (64) that names the ones it can", () => {
    for (const args of [
      ["--format", "xml", exec],
      ["detect", "--format", "csv", exec],
      ["plugin", "--format", "table"],
    ]) {
      const r = run(args, "");
      expect(r.code, args.join(" ")).toBe(64);
      expect(r.stderr).toMatch(/ecs/);
      expect(r.stdout).toBe("");
    }
  });

  it("keeps the exact bytes of an argument that is not UTF-8, and the argc the kernel logged", () => {
    const raw = "ff fe 28 69 6e 76".replace(/ /g, "").toUpperCase();
    const log =
      'type=SYSCALL msg=audit(1700000000.000:8): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=0 ppid=1 pid=9 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm="x" exe="/tmp/x" key=(null)\n' +
      `type=EXECVE msg=audit(1700000000.000:8): argc=2 a0="sh" a1=${raw}\n`;
    const r = run(["--format", "ecs"], log);
    const [doc] = docs(r.stdout) as { auditd: { argv_raw?: Record<string, string> }; process: { args_count: number } }[];
    expect(doc!.auditd.argv_raw).toEqual({ "1": raw });
    expect(doc!.process.args_count).toBe(2);
  });

  it("keeps the exact bytes of a PATH name that is not UTF-8: auditd.paths[].name_raw, hex or quoted (T20 item 6)", () => {
    const log =
      'type=SYSCALL msg=audit(1700000000.000:9): arch=c000003e syscall=257 success=yes exit=3 items=3 pid=9 comm="x"\n' +
      "type=PATH msg=audit(1700000000.000:9): item=0 name=2F746D702F66FF6F nametype=NORMAL\n" +
      'type=PATH msg=audit(1700000000.000:9): item=1 name="/tmp/q\xfex" nametype=NORMAL\n' +
      "type=PATH msg=audit(1700000000.000:9): item=2 name=2F746D702F6D792066696C65 nametype=NORMAL\n";
    // latin1: the byte FE as the log has it (a string would be written as UTF-8's C3 BE)
    const r = run(["--format", "ecs"], Buffer.from(log, "latin1"));
    expect(r.code, r.stderr).toBe(0);
    const [doc] = docs(r.stdout) as { auditd: { paths: Record<string, string>[] } }[];
    expect(doc!.auditd.paths.map((p) => [p.name, p.name_raw])).toEqual([
      ["/tmp/f\ufffdo", "2F746D702F66FF6F"],
      ["/tmp/q\ufffdx", "2F746D702F71FE78"],
      // a name that is UTF-8 loses nothing: no name_raw, as auditd.argv_raw only for arguments that need it
      ["/tmp/my file", undefined],
    ]);
    expect(problems(doc as unknown as Record<string, unknown>)).toEqual([]);
  });

  it("sessions, net and report refuse --format ecs (it is for events); --pretty indents it", () => {
    for (const mode of ["sessions", "net", "report"]) {
      const r = run([mode, "--format", "ecs", exec]);
      expect(r.code, mode).toBe(64);
    }
    const pretty = run(["--format", "ecs", "--pretty", exec]);
    expect(pretty.stdout.split("\n")[1]).toMatch(/^ {2}"@timestamp"/);
  });

  it("hostile values stay data: control characters and quotes are JSON-escaped, never a broken line", () => {
    const arg = '"$(rm -rf /)\n\u001b[31m<script>';
    const hostile =
      'type=SYSCALL msg=audit(1700000000.000:7): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=0 ppid=1 pid=9 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm="x" exe="/tmp/x" key=(null)\n' +
      `type=EXECVE msg=audit(1700000000.000:7): argc=2 a0="sh" a1=${Buffer.from(arg).toString("hex").toUpperCase()}\n`;
    const r = run(["--format", "ecs"], hostile);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    const [doc] = docs(r.stdout);
    expect((doc!.process as { args: string[] }).args[1]).toBe(arg);
  });
});
