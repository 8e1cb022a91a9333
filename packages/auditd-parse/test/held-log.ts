/**
 * 16 hosts' execs interleaved event by event, 10 ms apart; every other event of a host has no EOE and waits for
 * its host's window (2 s): ~100 open, and the events ended by EOE wait behind them (per host above 64 open).
 * `argv` gives event i's EXECVE fields (by default ccArgv's). The grouping's and detect's tests of
 * events held back for order (grouping.test.ts, detect-held.test.ts).
 */
export function heldLog(events: number, argv = ccArgv): string[] {
  const lines: string[] = [];
  for (let i = 0; i < events; i++) {
    const host = i % 16;
    const serial = 1000 + Math.floor(i / 16);
    const ms = 1700000000000 + i * 10;
    const stamp = `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, "0")}:${serial}`;
    const node = `node=web${host}.example.net`;
    lines.push(
      `${node} type=SYSCALL msg=audit(${stamp}): arch=c000003e syscall=59 success=yes exit=0 pid=${i} comm="cc" exe="/usr/bin/cc"`,
    );
    lines.push(`${node} type=EXECVE msg=audit(${stamp}): ${argv(i)}`);
    lines.push(`${node} type=CWD msg=audit(${stamp}): cwd="/home/build"`);
    if (Math.floor(i / 16) % 2 === 1) lines.push(`${node} type=EOE msg=audit(${stamp}): `);
  }
  return lines;
}

/** Event i's EXECVE fields in heldLog by default: `cc -c src/file<i>.c`. */
export function ccArgv(i: number): string {
  return `argc=3 a0="cc" a1="-c" a2="src/file${i}.c"`;
}
