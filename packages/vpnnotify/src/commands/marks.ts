import { constants, lstatSync } from "node:fs";
import { access, lstat, stat } from "node:fs/promises";
import { userInfo } from "node:os";
import { dirname } from "node:path";
import {
  type CliContext,
  type Command,
  ConfigError,
  cliContext,
  commandUser,
  describedUser,
  describeError,
  ExitCode,
  escapeLine,
  exitWith,
  type IOStreams,
  type Logger,
  loadConfig,
  type RunFn,
  type SpoolDenied,
  UsageError,
} from "@opsguard/core";
import { networkOf, normalizeIp } from "../address";
import { historyKey } from "../alert";
import { configSchema, type VpnnotifyConfig } from "../config";
import { vpnUser } from "../event";
import { marksFileOf } from "../file-store";
import { noHistoryFor } from "../notify";
import { markSeen } from "../places";
import { hookUser, otherOwnerAsRoot } from "../run-as";
import { createSpool, createStore, placePolicy, recordingLogger, spoolDir } from "../runtime";
import type { MarkPick, Marks } from "../store";
import { MAX_FIELD_CHARS } from "../template";

/**
 * How long `marks --remove` waits for the state file's and the marks file's locks, both together, before exit 75. A
 * writer holds them for one read and write (milliseconds; a worker's alert under a storm, a second or so), and a lock
 * whose holder died is taken over at once (core's withLock): 15 s is a wait a person at a terminal sits out, the
 * same whatever the hooks' deadlineMs (a login's budget: half of it, when longer, was each lock's wait, so 15 s +
 * 15 s by default and up to 30 s + 30 s, where README and --help said 15 s; T70 N5).
 */
export const MARKS_LOCK_WAIT_MS = 15_000;

export interface MarksCommandOptions {
  ctx: CliContext;
  user?: string | undefined;
  place?: string | undefined;
  flags: { remove?: boolean };
}

/** `vpnnotify marks`: the users' "not me" marks, and the way to undo one given by mistake. */
export function newMarksCommand(program: Command, runF: RunFn<MarksCommandOptions> = runMarksCommand): Command {
  return program
    .command("marks")
    .description('list the "not me" marks (places a user said a login was not them); --remove undoes one')
    .argument("[user]", "only this user's marks")
    .argument("[place]", "only those of this address or network (81.2.69.142, 81.2.69.0/24)")
    .option("--remove", "remove USER's marks of PLACE (an address: its mark and its network's), or all of USER's marks")
    .action(async (user: string | undefined, place: string | undefined, flags: MarksCommandOptions["flags"], command: Command) => {
      const ctx = cliContext(command, { defaultLevel: "info" });
      exitWith(command, await runF({ ctx, user, place, flags }, ctx.io));
    });
}

/**
 * The network of an "ip:…" mark's address; undefined for another key, or one whose address does not parse (the marks
 * file is the schema's record of any string keys: a hand-edited key must not throw here).
 */
function networkOfAddressKey(key: string): string | undefined {
  const ip = key.startsWith("ip:") ? normalizeIp(key.slice(3)) : undefined;
  return ip === undefined ? undefined : networkOf(ip);
}

/** Which marks a PLACE argument names, and how to say it. */
interface PlacePick {
  /** The marks listed for it: an address's own and its network's. */
  lists: (key: string) => boolean;
  /** The marks removed for it. */
  which: MarkPick;
  shown: string;
  /**
   * For an address: its network's key, and why its mark is not picked among `marks` (undefined: it is, or there is
   * none), for the line saying it was kept.
   */
  networkKept?: { key: string; why: (marks: Marks) => string | undefined };
}

/**
 * Why the network mark `net` stays when the address `ip` is removed, among the user's `marks`; undefined when it holds
 * nothing but that address's "No". A "No" marks its address and its network (markDisowned): the network's mark keeps
 * the earliest of their logins and the latest answer, so it stands for another "No" when another address mark lies in
 * the network, or when its login or answer is not the address mark's (that other "No"'s address mark has gone: expired
 * while logins from the network kept the network's alive, or dropped for room). Kept then: removing it would let
 * logins from the network of a "No" nobody took back pass quietly (T70 F3).
 */
function networkStaysFor(ip: string, network: string, marks: Marks): string | undefined {
  const net = marks[`net:${network}`];
  if (!net) return undefined;
  const others = Object.keys(marks).filter((k) => k !== `ip:${ip}` && networkOfAddressKey(k) === network);
  if (others.length > 0) return `another "No" stands on this network: ${others.map((k) => k.slice(3)).join(", ")}`;
  // Said as the mark shows it: the store cannot tell whose "No" that is, only that its address mark is no longer kept —
  // removed by an earlier --remove (the first of two "No"s in one network, T71 N11), expired while logins from the
  // network kept the network's alive, or dropped for room. So no other login is named as standing: it may be one the
  // operator just took back, and the network's mark is kept all the same (dropping it could let a "No" nobody took
  // back pass quietly).
  const own = marks[`ip:${ip}`];
  const gone = "whose address mark is no longer kept (removed before, expired, or dropped for room)";
  const at = (t: number) => new Date(t).toISOString();
  if (!own) return `${ip} has no mark of its own; the network's records the "No" to the login of ${at(net.login)}, ${gone}`;
  if (net.login < own.login) return `its mark also records a "No" to an earlier login, of ${at(net.login)}, ${gone}`;
  if (net.answeredAt > own.answeredAt) return `its mark also records a "No" answered later, at ${at(net.answeredAt)}, ${gone}`;
  return undefined;
}

/**
 * An address picks its own mark, and its network's when no other "No" stands on that network (networkStaysFor): a
 * "No" marked both, and either escalates a login from there. A network, written in any form of its /24 (/56), picks
 * its mark and those of the addresses in it. Anything else is a usage error: the marks are kept only per address and
 * per /24 (/56), as placeKeys makes them.
 */
export function placePick(arg: string): PlacePick {
  const bad = (why: string) =>
    new UsageError(`${escapeLine(JSON.stringify(arg))} ${why}`, {
      hint: "give an address (81.2.69.142, 2a02:8100::1) or its network as marked: the /24 (81.2.69.0/24), for IPv6 the /56",
    });
  // A zone (fe80::1%eth0) names a link, not a place: refused for IPv6 as for IPv4, where isIP already refuses it (T71 N10).
  if (arg.includes("%")) throw bad("is not an IP address or network (a %zone is not part of a client's address)");
  const slash = arg.lastIndexOf("/");
  if (slash < 0) {
    const ip = normalizeIp(arg);
    if (!ip) throw bad("is not an IP address or network");
    const network = networkOf(ip);
    return {
      lists: (key) => key === `ip:${ip}` || key === `net:${network}`,
      which: (key, marks) => key === `ip:${ip}` || (key === `net:${network}` && !networkStaysFor(ip, network, marks)),
      shown: `${ip} (or its network ${network})`,
      networkKept: { key: `net:${network}`, why: (marks) => networkStaysFor(ip, network, marks) },
    };
  }
  const ip = normalizeIp(arg.slice(0, slash));
  const prefix = arg.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(prefix)) throw bad("is not an IP address or network");
  const wanted = ip.includes(":") ? 56 : 24;
  if (Number(prefix) !== wanted)
    throw bad(`is not a network vpnnotify marks: it keeps /${wanted} networks for ${ip.includes(":") ? "IPv6" : "IPv4"}`);
  const network = networkOf(ip);
  const inIt = (key: string) => key === `net:${network}` || networkOfAddressKey(key) === network;
  return {
    lists: inIt,
    which: inIt,
    shown: `${network} (or an address in it)`,
  };
}

/** A mark as printed: one per line in text, one object per mark in JSON. */
interface MarkRow {
  user: string;
  place: string;
  kind: "address" | "network";
  answeredAt: string;
  login: string;
  /** The disowned login's address, when the user's address mark from that login is still kept. */
  loginIp?: string;
  lastSeen?: string;
  expiresAt: string;
  expired: boolean;
}

function rows(byUser: Map<string, Marks>, forgetAfterMs: number, now: number): MarkRow[] {
  const out: MarkRow[] = [];
  for (const [user, marks] of [...byUser].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const entries = Object.entries(marks).sort(([a, x], [b, y]) => y.answeredAt - x.answeredAt || (a < b ? -1 : 1));
    for (const [key, mark] of entries) {
      const kind = key.startsWith("net:") ? "network" : "address";
      const place = key.slice(key.indexOf(":") + 1);
      // A network mark keeps only the login's time: its address is that of the same login's address mark in it.
      const loginIp =
        kind === "address"
          ? place
          : entries
              .map(([k, m]) => (m.login === mark.login && `net:${networkOfAddressKey(k)}` === key ? k.slice(3) : undefined))
              .find((ip) => ip !== undefined);
      const expiresAt = markSeen(mark) + forgetAfterMs;
      out.push({
        user,
        place,
        kind,
        answeredAt: new Date(mark.answeredAt).toISOString(),
        login: new Date(mark.login).toISOString(),
        ...(loginIp ? { loginIp } : {}),
        ...(mark.lastSeen !== undefined ? { lastSeen: new Date(mark.lastSeen).toISOString() } : {}),
        expiresAt: new Date(expiresAt).toISOString(),
        expired: expiresAt <= now,
      });
    }
  }
  return out;
}

/**
 * A user name for a terminal line: quoted when it holds spaces, quotes or control characters, which are escaped; past
 * MAX_FIELD_CHARS characters cut, saying how long it was, as a message's fields are (cutField): a 100,000-character
 * USER was echoed whole on one line (T71 N10). Spaces do not stop the cut (core's shortenLongWords cuts only runs
 * without one).
 */
function shownUser(user: string): string {
  const chars = Array.from(user);
  const head = chars.length > MAX_FIELD_CHARS ? chars.slice(0, MAX_FIELD_CHARS).join("") : user;
  const shown = /^[\p{L}\p{N}._@+-]+$/u.test(head) ? head : escapeLine(JSON.stringify(head));
  return head === user ? shown : `${shown}… (cut: ${chars.length} characters)`;
}

function rowLine(row: MarkRow): string {
  const from = row.kind === "network" && row.loginIp ? ` from ${escapeLine(row.loginIp)}` : "";
  return [
    shownUser(row.user),
    // As stored: a hand-edited key may hold anything.
    escapeLine(row.place),
    `no=${row.answeredAt}`,
    `login=${row.login}${from}`,
    ...(row.lastSeen ? [`lastSeen=${row.lastSeen}`] : []),
    row.expired ? `expired=${row.expiresAt}` : `expires=${row.expiresAt}`,
  ].join("  ");
}

/** A network mark an address's removal left, and why (networkStaysFor). */
type KeptRow = MarkRow & { because: string };

/**
 * The network mark of PLACE (an address) left among the user's marks `left`, with why, if the pick left one. Why is
 * asked of the marks as they were decided on (those left and those `removed`), as the pick was: among those left, the
 * address's own mark is always gone, and every reason read "another login than its" (T71 N11).
 */
function keptNetwork(
  user: string,
  pick: PlacePick | undefined,
  { left, removed }: { left: Marks; removed: Marks },
  forgetAfterMs: number,
): KeptRow | undefined {
  const key = pick?.networkKept?.key;
  const because = key === undefined || !left[key] ? undefined : pick?.networkKept?.why({ ...removed, ...left });
  if (key === undefined || because === undefined) return undefined;
  // Rows of all that is left, for the network row's loginIp (an address mark of the same login).
  const row = rows(new Map([[user, left]]), forgetAfterMs, Date.now()).find((r) => `net:${r.place}` === key);
  return row && { ...row, because };
}

function keptLine(row: KeptRow): string {
  return `kept  ${rowLine(row)}  (${row.because}; to remove it too: vpnnotify marks --remove ${shownUser(row.user)} ${row.place})`;
}

/** A "No" in the spool whose mark is still owed (the store could not be written when it came). */
interface PendingNo {
  user: string;
  ip: string;
  network: string;
  answeredAt: string;
  login: string;
}

/**
 * The spool directory this user may not list (another user's, mode 0700; or its owner's with a mode that locks them
 * out): a 78 naming its owner and the fix, as for the state directory (checkStateAccess). Other errors as they are.
 */
function spoolDenied(error: unknown, dir: string, named: string | undefined): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code !== "EACCES" && code !== "EPERM") return error;
  let info: { uid: number; mode: number } | undefined;
  try {
    info = lstatSync(dir);
  } catch {}
  const me = hookUser(process.getuid?.() ?? -1);
  const shown = escapeLine(dir);
  if (!info) {
    return new ConfigError(
      `the spool directory ${shown} cannot be reached by ${describedUser(me)}: a directory above it is closed to this user`,
      {
        hint: "run it as the user vpnnotify runs as (the spool's owner), with sudo -u",
      },
    );
  }
  const owner = hookUser(info.uid);
  const mode = (info.mode & 0o777).toString(8).padStart(4, "0");
  const unseen = `a "No" waiting there to be marked cannot be seen`;
  const head = `the spool directory ${shown} cannot be read by ${describedUser(me)}`;
  // Its owner, locked out by the mode (the fix is no other user to run as, T71 N4's rule for the spool too).
  if (info.uid === me.uid) {
    return new ConfigError(`${head}, its owner: its mode is ${mode}; ${unseen}`, {
      hint: `give its owner access back: chmod 700 ${shown}`,
    });
  }
  const name = /^[A-Za-z0-9._-]+$/.test(owner.name) ? owner.name : `#${owner.uid}`;
  return new ConfigError(`${head}: it belongs to ${describedUser(owner)}, the user vpnnotify runs as, mode ${mode}; ${unseen}`, {
    hint: `run it as that user: sudo -u ${name} vpnnotify${named ? ` --config ${escapeLine(named)}` : ""} marks …`,
  });
}

/**
 * The "No"s of `user` (or everyone's) waiting in the spool to be marked, of PLACE's marks when given: invisible to the
 * store, and marked by the next flush or worker, so a removal now would be undone then (T70 F4). Read only: the spool
 * is never changed here. A spool (or an entry in it) this user cannot read is, for `--remove` (`failClosed`), a 78
 * with nothing removed: a "No" there could not be seen, and the next flush would mark the place again (T71 N3). For a
 * listing it is a warning saying what it is and the fix, and the marks are still shown.
 */
async function pendingNos(
  config: VpnnotifyConfig,
  log: Logger,
  user: string | undefined,
  pick: PlacePick | undefined,
  { failClosed, named }: { failClosed: boolean; named: string | undefined },
): Promise<PendingNo[]> {
  let entries: Awaited<ReturnType<ReturnType<typeof createSpool>["list"]>>;
  const denied: SpoolDenied[] = [];
  const dir = spoolDir(config);
  try {
    entries = await createSpool(config, log).list({ readOnly: true, denied });
  } catch (error) {
    const problem = spoolDenied(error, dir, named);
    if (failClosed && problem instanceof ConfigError) throw problem;
    log.warn('could not look in the spool for "No"s not marked yet', { spool: dir, error: describeError(problem) });
    return [];
  }
  for (const entry of denied) {
    const why = `the spool entry ${escapeLine(entry.file)} ${entry.problem}; it may hold a "No" not marked yet`;
    if (failClosed) throw new ConfigError(`${why}: nothing removed`, { hint: entry.fix });
    log.warn(`${why}, not listed`, { fix: entry.fix });
  }
  const found: PendingNo[] = [];
  for (const { payload } of entries) {
    if (!("disowned" in payload) || !payload.disowned || payload.disowned.marked) continue;
    const name = historyKey(payload.event.user);
    if (user !== undefined && name !== user) continue;
    const { ip, network } = payload.geo;
    if (pick && !pick.lists(`ip:${ip}`) && !pick.lists(`net:${network}`)) continue;
    found.push({
      user: name,
      ip,
      network,
      answeredAt: new Date(payload.disowned.at).toISOString(),
      login: new Date(payload.event.time).toISOString(),
    });
  }
  return found;
}

function pendingLine(p: PendingNo): string {
  return `pending  ${shownUser(p.user)}  ${escapeLine(p.ip)}  no=${p.answeredAt}  login=${p.login}  (a "No" in the spool, not marked yet: the next flush marks ${escapeLine(p.ip)} and ${escapeLine(p.network)})`;
}

/**
 * `--remove` with a "No" of the user still waiting to be marked: 75, the removal cannot be complete yet (the next flush
 * would mark it); it is never taken out of the spool here (its alert, and the record of the "No", stay as they are).
 */
function pendingLeft(pending: readonly PendingNo[], user: string, place: string | undefined, log: Logger): ExitCode {
  if (pending.length === 0) return ExitCode.OK;
  for (const p of pending) {
    log.error(
      `a "No" of ${shownUser(user)} to a login from ${escapeLine(p.ip)} is still in the spool, not marked yet: nothing removed for it`,
      {
        fix: `run vpnnotify flush (it marks it), then vpnnotify marks --remove ${shownUser(user)}${place ? ` ${escapeLine(place)}` : ""} again`,
      },
    );
  }
  return ExitCode.TEMP_FAIL;
}

/**
 * The most of SUDO_USER the record keeps, in characters. sudo sets it to the name of the user who ran sudo (a login
 * name: 32 characters at most with useradd), but any user may set it to anything: cut, a value of kilobytes made the
 * one warning several syslog messages (logger(1) splits a line at 1 KiB), the later ones starting with the value's
 * own text, as a forged message would (T70 N1).
 */
const MAX_SUDO_USER_CHARS = 64;

/**
 * Who is running this, for the log line: the account and its uid, and SUDO_USER when it is set. Said as the variable
 * it is ("SUDO_USER=bob", not "via sudo from bob"): nothing proves that sudo set it, the uid is the part to trust.
 * Control characters are escaped here too, not only by the logger: `by` is also printed in --json.
 */
function operator(env: NodeJS.ProcessEnv = process.env): string {
  const uid = process.getuid?.();
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    name = uid === undefined ? undefined : hookUser(uid).name;
  }
  const given = env.SUDO_USER;
  let sudo = "";
  if (given) {
    const chars = Array.from(given);
    const kept = chars.length > MAX_SUDO_USER_CHARS ? `${chars.slice(0, MAX_SUDO_USER_CHARS).join("")}…` : given;
    sudo = `, SUDO_USER=${escapeLine(kept)}${kept === given ? "" : ` (cut: ${chars.length} characters)`}`;
  }
  return `${escapeLine(name ?? "unknown")}${uid === undefined ? "" : ` (uid ${uid})`}${sudo}`;
}

/**
 * The state file's marks as this user may use them: a directory or marks file another user owns is a 78 saying whom to
 * run as, not the marks file's own "chown it to this user" (which, run by the wrong user, would lock the hooks out).
 */
async function checkStateAccess(config: VpnnotifyConfig, write: boolean, named: string | undefined): Promise<void> {
  if (config.state.redis || process.getuid?.() === 0) return;
  const marks = marksFileOf(config.state.file);
  const notAFile = await notAMarksFile(marks);
  if (notAFile) throw notAFile;
  const stateOwner = await stat(dirname(config.state.file)).then(
    (info) => info.uid,
    () => undefined,
  );
  for (const [path, mode] of [
    [dirname(config.state.file), constants.X_OK | (write ? constants.W_OK : 0)],
    [marks, constants.R_OK | (write ? constants.W_OK : 0)],
    // Read for the marks an earlier build kept inside histories; never written here.
    [config.state.file, constants.R_OK],
  ] as const) {
    const info = await stat(path).catch(() => undefined);
    if (!info) continue;
    const denied = await access(path, mode).then(
      () => false,
      () => true,
    );
    if (!denied) continue;
    // A file in the state directory that is not its owner's (root restored or edited it): running as the file's owner
    // is no fix (the hooks and serve run as the directory's), giving it back is, as status says (T70 F2).
    if (path !== dirname(config.state.file) && stateOwner !== undefined && info.uid !== stateOwner) {
      throw misownedFile(path, info.uid, stateOwner);
    }
    const owner = hookUser(info.uid);
    const name = /^[A-Za-z0-9._-]+$/.test(owner.name) ? owner.name : `#${owner.uid}`;
    const me = hookUser(process.getuid?.() ?? -1);
    const can = write && path !== config.state.file ? "read and written" : "read";
    if (info.uid === me.uid) {
      // Its owner, run as that user already: the mode is what keeps them out, and running as them no fix (T71 N4).
      const mode = (info.mode & 0o777).toString(8).padStart(4, "0");
      const shown = escapeLine(path);
      throw new ConfigError(`${shown} cannot be ${can} by its owner ${describedUser(me)}: its mode is ${mode}`, {
        hint: `give its owner access back: chmod ${info.isDirectory() ? "700" : "600"} ${shown}`,
      });
    }
    throw new ConfigError(
      `${escapeLine(path)} cannot be ${can} by ${describedUser(me)}: it belongs to ${describedUser(owner)}, the user vpnnotify runs as`,
      {
        hint: `run it as that user: sudo -u ${name} vpnnotify${named ? ` --config ${escapeLine(named)}` : ""} marks …`,
      },
    );
  }
}

/** A file in the state directory owned by another user than the directory's: the chown and chmod that give it back. */
function misownedFile(path: string, uid: number, stateOwner: number): ConfigError {
  const owner = hookUser(uid);
  const hooks = hookUser(stateOwner);
  return new ConfigError(
    `${escapeLine(path)} belongs to ${describedUser(owner)}, not to ${describedUser(hooks)}, who owns the state directory and whom vpnnotify's hooks and serve run as`,
    {
      hint: `give it back to that user, mode 600 (as root): chown ${commandUser(hooks)} ${escapeLine(path)} && chmod 600 ${escapeLine(path)}`,
    },
  );
}

/** Something other than a file at the marks file's name (a directory): said as such, whoever owns it. */
async function notAMarksFile(path: string): Promise<ConfigError | undefined> {
  const info = await lstat(path).catch(() => undefined);
  if (!info?.isDirectory()) return undefined;
  return new ConfigError(`${escapeLine(path)} is a directory, not a marks file`, {
    hint: `move it out of the way (it holds no marks; the next "No" creates the file): mv ${escapeLine(path)} ${escapeLine(path)}.moved`,
  });
}

/**
 * `--remove` as root on the state of the user the hooks run as: the marks file root writes in its place would be
 * root's, 0600, and the hooks could not read it (every login then told to the security channel as "marks could not be
 * read"). Refused, naming the user to run it as. Root may list them: that only reads.
 */
function refuseRootOnOthersState(stateDir: string, marks: string, named: string | undefined): void {
  const owner = otherOwnerAsRoot(stateDir);
  if (!owner) return;
  const name = /^[A-Za-z0-9._-]+$/.test(owner.name) ? owner.name : `#${owner.uid}`;
  // A marks file that is not that user's would only send them back here: its fix first, in the same line.
  let marksUid: number | undefined;
  try {
    const info = lstatSync(marks);
    marksUid = info.isFile() ? info.uid : undefined;
  } catch {}
  const giveBack =
    marksUid !== undefined && marksUid !== owner.uid
      ? `chown ${commandUser(owner)} ${escapeLine(marks)} && chmod 600 ${escapeLine(marks)} (it belongs to uid ${marksUid}), then `
      : "";
  throw new ConfigError(
    `the state directory ${escapeLine(stateDir)} belongs to ${describedUser(owner)}, the user vpnnotify runs as; as root, marks --remove would leave a marks file that user cannot read`,
    {
      hint: `${giveBack}run it as ${escapeLine(owner.name)}: sudo -u ${name} vpnnotify${named ? ` --config ${escapeLine(named)}` : ""} marks --remove …`,
    },
  );
}

export async function runMarksCommand(
  { ctx, user: userArg, place: placeArg, flags }: MarksCommandOptions,
  io: IOStreams,
): Promise<ExitCode> {
  const user = userArg === undefined ? undefined : vpnUser(userArg);
  if (userArg !== undefined && user === undefined) {
    throw new UsageError("USER is empty (or only spaces or control characters)", { hint: "pass the VPN user's name" });
  }
  // As notify --user (T71 N10): Node decodes each byte that is not UTF-8 to U+FFFD, so such a name is not the one meant.
  if (user !== undefined && noHistoryFor(user)) {
    throw new UsageError("USER is not valid UTF-8 (or holds U+FFFD, what such bytes decode to)", {
      hint: "pass the VPN user's name in UTF-8, as the directory spells it",
    });
  }
  if (flags.remove && user === undefined) {
    throw new UsageError("--remove needs USER", { hint: "vpnnotify marks --remove USER [ADDRESS-OR-NETWORK]" });
  }
  // The name as the histories and marks are keyed (a hook's "Alice " is alice's).
  const key = user === undefined ? undefined : historyKey(user);
  const pick = placeArg === undefined ? undefined : placePick(placeArg);
  const { config, filepath } = await loadConfig({ tool: "vpnnotify", schema: configSchema, path: ctx.opts.config });
  // sudo drops $VPNNOTIFY_CONFIG: the command to run names the config when it was not found by default.
  const named = (ctx.opts.config ?? process.env.VPNNOTIFY_CONFIG) ? filepath : undefined;
  if (flags.remove && !config.state.redis) refuseRootOnOthersState(dirname(config.state.file), marksFileOf(config.state.file), named);
  await checkStateAccess(config, flags.remove === true, named);
  // Unhurried: nobody's login waits on this, and the lock may be held by a worker's alert for a while; the locks are
  // waited for MARKS_LOCK_WAIT_MS in all, as README and --help say, not the hooks' deadlineMs (up to 30 s, T70 N5).
  const store = createStore(config, ctx.log, undefined, { unhurried: true, lockWaitMs: MARKS_LOCK_WAIT_MS });
  try {
    const shown = key === undefined ? "" : shownUser(key);
    if (!flags.remove) {
      const found = await store.listMarks(key);
      const picked = new Map(
        [...found]
          .map(([name, marks]): [string, Marks] => [
            name,
            Object.fromEntries(Object.entries(marks).filter(([k]) => !pick || pick.lists(k))),
          ])
          .filter(([, marks]) => Object.keys(marks).length > 0),
      );
      const list = rows(picked, placePolicy(config).forgetAfterMs, Date.now());
      const pending = await pendingNos(config, ctx.log, key, pick, { failClosed: false, named });
      if (ctx.opts.json) io.stdout.write(`${JSON.stringify({ marks: list, pending, store: store.name })}\n`);
      else if (list.length > 0 || pending.length > 0)
        io.stdout.write(`${[...list.map(rowLine), ...pending.map(pendingLine)].join("\n")}\n`);
      else {
        const whose = key === undefined ? "" : ` for ${shown}`;
        io.stdout.write(`no "not me" marks${whose}${pick ? ` at ${pick.shown}` : ""} (${store.name})\n`);
      }
      return ExitCode.OK;
    }
    const name = key as string;
    // Before anything is removed: a spool this user cannot read hides the "No"s still waiting there (T71 N3).
    await pendingNos(config, ctx.log, name, pick, { failClosed: true, named });
    const { removed, left } = await store.removeMarks(name, (k, marks) => !pick || pick.which(k, marks));
    const list = rows(new Map([[name, removed]]), placePolicy(config).forgetAfterMs, Date.now());
    const kept = keptNetwork(name, pick, { left, removed }, placePolicy(config).forgetAfterMs);
    // Looked for after the removal: a "No" the worker marks meanwhile is then either removed above or still here.
    const pending = await pendingNos(config, ctx.log, name, pick, { failClosed: false, named });
    if (list.length === 0) {
      // Nothing to do, as status says "pending: 0": exit 0, with the line saying so (the user's marks, if any, beside it).
      const rest = await store.listMarks(name);
      const theirs = Object.keys(rest.get(name) ?? {}).map((k) => k.slice(k.indexOf(":") + 1));
      const line = `nothing removed: ${shown} has no "not me" mark${pick ? ` at ${pick.shown}` : "s"} (${store.name})${theirs.length > 0 ? `; their marks: ${theirs.join(", ")}` : ""}`;
      if (ctx.opts.json) {
        io.stdout.write(`${JSON.stringify({ removed: [], ...(kept ? { kept: [kept] } : {}), pending, store: store.name })}\n`);
      } else io.stdout.write(`${[line, ...(kept ? [keptLine(kept)] : []), ...pending.map(pendingLine)].join("\n")}\n`);
      return pendingLeft(pending, name, placeArg, ctx.log);
    }
    const by = operator();
    const at = new Date().toISOString();
    // A security decision, logged where the operator's logs go as the worker logs (syslog, and log.file when set), at
    // warning level whatever -q says: the operator's stderr (which -q silences) is no record (T70 F1). Not posted: this
    // command calls no Slack.
    const audit = recordingLogger(config, ctx.log, { format: ctx.opts.logFormat, stderr: io.stderr });
    const record = (msg: string, fields: Record<string, string>) => audit.log.warn(msg, fields);
    for (const row of list) {
      record('"not me" mark removed: logins from there are no longer escalated for it', { user: row.user, place: row.place, by, at });
    }
    if (kept) {
      // Said with the removals: the operator may have meant the network too, and must know it still escalates.
      record('"not me" network mark kept: logins from there are still escalated', {
        user: kept.user,
        place: kept.place,
        because: kept.because,
        by,
        at,
      });
    }
    await audit.close();
    if (ctx.opts.json) {
      io.stdout.write(`${JSON.stringify({ removed: list, ...(kept ? { kept: [kept] } : {}), pending, by, at, store: store.name })}\n`);
    } else {
      const lines = [...list.map((row) => `removed  ${rowLine(row)}`), ...(kept ? [keptLine(kept)] : []), ...pending.map(pendingLine)];
      io.stdout.write(`${lines.join("\n")}\n`);
    }
    return pendingLeft(pending, name, placeArg, ctx.log);
  } finally {
    await store.close().catch(() => {});
  }
}
