import { describe, expect, it } from "vitest";
import { AuditParser } from "../src/index";

// T21 #1 (an independent black-box try): one host's events came out of log-time order once more than 64
// events were open — a host with that many open was not kept in order at all, and past the bound on held
// events the held ones went out ahead of the host's older open ones. A real log does this: commands without
// EOE (audit rules without syscall context, lone BPF records from systemd) stay open for the 2 s window, and on
// a busy build host that is more than 64 of them.

const sec = (ms: number) => (1_764_600_000 + ms / 1000).toFixed(3);
const exec = (serial: number, ms: number) => [
  `node=h1 type=SYSCALL msg=audit(${sec(ms)}:${serial}): arch=c000003e syscall=59 success=yes exit=0 pid=${serial} auid=1000 ses=3`,
  `node=h1 type=EXECVE msg=audit(${sec(ms)}:${serial}): argc=1 a0="make"`,
];
const eoe = (serial: number, ms: number) => `node=h1 type=EOE msg=audit(${sec(ms)}:${serial}): `;

/** The events' times in the order they were handed over, and their ids with record counts. */
function run(lines: string[]) {
  const times: string[] = [];
  const ids: string[] = [];
  const parser = new AuditParser((e) => {
    times.push(e.time ?? "");
    ids.push(`${e.serial}:${e.records.length}`);
  });
  for (const line of lines) parser.pushLine(line);
  parser.end();
  // ISO times of one format: their text order is their time order
  let newest = "";
  let backwards = 0;
  for (const t of times) {
    if (t < newest) backwards++;
    else newest = t;
  }
  return { ids, backwards };
}

describe("one host's events in log-time order with more than 64 open (T21 #1)", () => {
  it("a USER_END waits for the 66 older commands without EOE", () => {
    const lines: string[] = [];
    for (let i = 0; i < 66; i++) lines.push(...exec(100 + i, i * 10));
    lines.push(
      `node=h1 type=USER_END msg=audit(${sec(660)}:166): pid=1 uid=0 auid=1000 ses=3 msg='op=PAM:session_close acct="u" exe="/usr/sbin/sshd" hostname=? addr=? terminal=ssh res=success'`,
    );
    const { ids, backwards } = run(lines);
    expect(backwards).toBe(0);
    expect(ids.at(-1)).toBe("166:1");
    expect(ids).toHaveLength(67);
  });

  it("past the bound on held events the host's oldest open event goes first, whole", () => {
    // 300 commands without EOE (open for the window), each followed by one ended by EOE: more than 64 open and
    // more than MAX_HELD (256) completed events waiting behind them
    const lines: string[] = [];
    for (let i = 0; i < 300; i++) {
      lines.push(...exec(1000 + 2 * i, i * 4));
      lines.push(...exec(1001 + 2 * i, i * 4 + 1), eoe(1001 + 2 * i, i * 4 + 1));
    }
    const { ids, backwards } = run(lines);
    expect(backwards).toBe(0);
    // every event once, with both of its records (none cut short to keep the order)
    expect(ids).toHaveLength(600);
    expect(new Set(ids).size).toBe(600);
    expect(ids.every((id) => id.endsWith(":2"))).toBe(true);
  });
});

describe("the earliest open event found by host (fewer hosts than open events)", () => {
  it("holds an event back behind another host's one older open event", () => {
    // h0 has one event open at 0 ms, h1 six at 100-150 ms (more open events than hosts: the earliest is looked up by
    // host); h1's event at 50 ms completes by its EOE and must wait for h0's, not go out as older than all of h1's
    const at = (node: string, serial: number, ms: number) =>
      `node=${node} type=SYSCALL msg=audit(${sec(ms)}:${serial}): arch=c000003e syscall=59 success=yes exit=0 pid=${serial} auid=1000 ses=3`;
    const lines = [at("h0", 1, 0)];
    for (let i = 0; i < 6; i++) lines.push(at("h1", 10 + i, 100 + i * 10));
    lines.push(at("h1", 20, 50), `node=h1 type=EOE msg=audit(${sec(50)}:20): `);
    const order: string[] = [];
    const parser = new AuditParser((e) => order.push(`${e.node}:${e.serial}`));
    for (const line of lines) parser.pushLine(line);
    parser.end();
    expect(order).toEqual(["h0:1", "h1:20", "h1:10", "h1:11", "h1:12", "h1:13", "h1:14", "h1:15"]);
  });
});
