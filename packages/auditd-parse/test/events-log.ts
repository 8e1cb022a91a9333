/** Log lines and output readers the tests of the independent tries' findings share. */

/** A sudo USER_CMD event (complete on its own record) of serial n, one second after the one before. */
export const userCmd = (n: number) =>
  `type=USER_CMD msg=audit(17000000${String(n).padStart(2, "0")}.000:${n}): pid=${100 + n} uid=0 auid=1000 ses=1 msg='cwd="/" cmd=6C73 exe="/usr/bin/sudo" terminal=pts/0 res=success'`;

/** The serial of each NDJSON event line. */
export const serials = (stdout: string) =>
  stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => (JSON.parse(l) as { serial: number }).serial);
