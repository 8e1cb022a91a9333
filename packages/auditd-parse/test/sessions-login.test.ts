import { describe, expect, it } from "vitest";
import type { OutputRecord } from "../src/event";
import { AuditParser } from "../src/parser";
import { loginRecords } from "../src/sessions-login";

const WANTED = ["addr", "hostname", "terminal", "exe", "res", "acct", "cmd", "id"];
const hex = (s: string | Buffer) => Buffer.from(s).toString("hex").toUpperCase();

/** What JSON.parse gives of the same records, cut to the type and the fields sessions reads. */
/** What sessions reads of the records: the WANTED fields, and a cmd= as logged (its raw value) when there is one. */
function expected(records: OutputRecord[]): OutputRecord[] {
  return records.map((r) => ({
    type: r.type,
    fields: Object.fromEntries(Object.entries(r.fields).filter(([k]) => WANTED.includes(k))),
    ...(r.raw?.cmd === undefined ? {} : { raw: { cmd: r.raw.cmd } }),
  }));
}

function read(text: string): OutputRecord[] | undefined {
  const bytes = Buffer.from(text);
  // stale bytes past the end, as in a reused buffer: never read
  return loginRecords(Buffer.concat([bytes, Buffer.from('},"fields":{"exe":"stale"}')]), bytes.length);
}

describe("sessions reads a login event's fields from its records' JSON (issue 23, round 20)", () => {
  it("gives the type and the fields it reads as JSON.parse does, the rest left out", () => {
    const records = [
      '{"type":"USER_START","fields":{"pid":"1","subj":{"user":"u","level":"s0:c0,c1"},"acct":"alice","exe":"/usr/sbin/sshd","hostname":null,"addr":"203.0.113.9","terminal":"ssh","res":"success"},"raw":{"addr":"?","exe":"raw"},"text":"x } ] , \\" {"}',
      // escapes, text beyond ASCII, a name given twice (the last wins), values that are not strings
      '{"type":"USER_CMD","fields":{"cmd":"rm \\"-rf\\" /\\n\\u001b[31m","exe":"/usr/bin/caf\u00e9","acct":"\u65e5\u672c","res":"a","res":"failed","terminal":{"a":[1,{"b":"}"}]},"id":12,"addr":true}}',
      '{"type":"CRED_DISP","fields":{}}',
      '{"type":"USER_END","fields":{"exe":"\\ud800"},"enriched":{"AUID":"alice"}}',
    ];
    const text = records.join(",");
    expect(read(text)).toEqual(expected(JSON.parse(`[${text}]`)));
    expect(read("")).toEqual([]);
  });

  it("says it cannot when the JSON is not as the interpreter writes it (the caller parses it whole)", () => {
    for (const text of [
      '{"fields":{},"type":"USER_START"}',
      '{"type":"USER_START"}',
      '{ "type":"USER_START","fields":{}}',
      '{"type":"USER\\u005fSTART","fields":{}}',
      '{"type":"USER_START","fields":{"ex\\u0065":"x"}}',
      '{"type":"USER_START","fields":{"exe":"x"}',
      '{"type":"USER_START","fields":{"exe":"x}',
      '{"type":"USER_START","fields":{"exe":"x"}}{"type":"USER_END","fields":{}}',
      '{"type":"USER_START","fields":{"exe" "x"}}',
    ])
      expect(read(text), text).toBeUndefined();
  });

  it("reads the same as JSON.parse from the parser's own JSON of hostile login records", () => {
    const lines = [
      `type=USER_START msg=audit(1.000:1): pid=1 uid=0 auid=1000 ses=1 msg='op=PAM:session_open acct=${hex("al ice\n")} exe="/usr/sbin/sshd" hostname=? addr=? terminal=ssh res=success'`,
      `type=USER_CMD msg=audit(2.000:2): pid=1 uid=1000 auid=1000 ses=1 msg='cwd="/" cmd=${hex(Buffer.from([0x72, 0x6d, 0x20, 0xff, 0xfe, 0x22, 0x5c, 0x00]))} exe="/usr/bin/sudo" terminal=pts/0 res=failed'`,
      `type=USER_LOGIN msg=audit(3.000:3): pid=1 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 msg='op=login id=1001 exe="/usr/sbin/sshd" hostname=h\u00e9 addr=198.51.100.7 terminal=ssh res=failed'`,
      `node=caf\u00e9 type=USER_END msg=audit(4.000:4): pid=1 uid=0 auid=1000 ses=1 msg='op=PAM:session_close acct="\u202eevil" exe="/usr/sbin/sshd" hostname=? addr=? terminal=ssh res=success' UID="root" AUID="alice"`,
      `type=CRED_DISP msg=audit(5.000:5): pid=1 uid=0 auid=1000 ses=1 msg='op=PAM:setcred acct="alice" exe="/usr/sbin/sshd" hostname=? addr=? terminal=ssh res=success'\u001dUID="root" AUID="alice"`,
    ];
    let read = 0;
    const parser = new AuditParser(
      (_e, json) => {
        const bytes = json.full().recordsJson()!;
        const records = loginRecords(bytes.buf, bytes.length);
        expect(records).toEqual(expected(json.recordObjects()));
        read++;
      },
      { ids: { passwd: "/dev/null", group: "/dev/null" }, recordObjects: false },
    );
    parser.pushBytes(Buffer.from(`${lines.join("\n")}\n`));
    parser.end();
    expect(read).toBe(lines.length);
  });
});
