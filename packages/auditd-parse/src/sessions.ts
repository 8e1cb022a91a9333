import { escapeControls } from "./escape";
import type { AuditEvent, FieldValue, OutputRecord } from "./event";
import type { JsonBytes } from "./json";
import { type Connection, connectionOf, connectionReadsRecords, connectionText } from "./net";
import { PARTS_REMEMBERED, partKey } from "./parts";
import { Oldest, Remembered } from "./remembered";
import { commandJson, type HeldBytes, heldText } from "./sessions-json";
import { loginRecords, loginResult, readWhole } from "./sessions-login";
import { heldLine, lineBytes, packCommand, packLine, unpackCommand, WIDE } from "./sessions-pack";
import { lostBytes } from "./values";

export interface SessionCommand {
  time: string;
  id: string;
  pid?: string;
  /** The user the command ran as (its uid): a command run through sudo is root's, not the login user's. */
  uid?: string;
  exe?: string;
  cwd?: string;
  argv: string[];
  /**
   * The exact bytes, as hex by argument index, of the arguments that are not valid UTF-8 (U+FFFD in argv): the
   * plain parse's argvRaw (T23 #7).
   */
  argvRaw?: Record<string, string>;
  /** A command a program ran for the user (USER_CMD's exe: sudo), logged as its command line, not an exec. */
  via?: string;
  success?: boolean;
  /** errno name when the exec failed. */
  exit?: string;
  /**
   * An exec whose event was written in parts (AuditEvent.part): 1 on the command of its first part, 2, 3 … on
   * the rest of its command line (argv at the same indexes as the parse writes it, the earlier ones empty).
   */
  part?: number;
}

/** A su/sudo (or other PAM session) opened inside a login session, with the user it switched to. */
export interface NestedSession {
  via: string;
  /** The target user (acct= of its USER_START). */
  user?: string;
  start: string;
  end?: string;
  success?: boolean;
}

export interface Session {
  node?: string;
  ses: string;
  user?: string;
  start?: string;
  end?: string;
  /** Where the login came from (addr/hostname of USER_LOGIN/USER_START). */
  from?: string;
  /** The remote host's name when the login's records name one besides the address `from` holds (T23 #7). */
  hostname?: string;
  /** The exact bytes of `from`, in hex, when they are not UTF-8 (shown as U+FFFD), as the plain parse's raw (T24 #6). */
  fromRaw?: string;
  /** The same for `hostname`. */
  hostnameRaw?: string;
  /** PAM's terminal (sshd's service `ssh`, cron's `cron`) or the login's own. */
  terminal?: string;
  /** The login's terminal from its USER_LOGIN (`/dev/pts/1`, as aureport --login shows) when not `terminal` (T23 #7). */
  loginTerminal?: string;
  /** The program that opened the session (sshd, login, cron …). */
  via?: string;
  /** USER_LOGIN/USER_START results; false when a login failed. */
  loginSuccess?: boolean;
  commands: SessionCommand[];
  connections: Connection[];
  /** su/sudo sessions opened inside this one, in order. */
  nested?: NestedSession[];
  /**
   * Commands, connections and nested sessions past the caps (per session, across open sessions; by count and by
   * bytes), counted but not listed.
   */
  omitted?: number;
}

const LOGIN_TYPES = new Set(["USER_LOGIN", "USER_START", "USER_END", "USER_LOGOUT", "CRED_ACQ", "CRED_REFR", "CRED_DISP", "LOGIN"]);
/**
 * The test and the empty list made once, not at each event: a closure for each of two tests and an empty list an
 * event were ~4 MB allocated per 30 MiB of the second tester's interleaved log (152 scavenges against 156; README
 * sessions, round 20, sess20b).
 */
const isLoginType = (t: string) => LOGIN_TYPES.has(t);
/** What a login with no session id reads (unsetLogin): its end, and the records that open or describe it. */
const isEndType = (t: string) => t === "USER_END" || t === "USER_LOGOUT";
const isUnsetLoginType = (t: string) => t === "USER_LOGIN" || t === "USER_AUTH" || t === "USER_ACCT" || t === "USER_START";
const NO_RECORDS: readonly OutputRecord[] = [];

/** Every record type for which the tracker reads an event's records (recordsOf): logins, PAM's, sudo's USER_CMD. */
const RECORDS_READ = new Set([...LOGIN_TYPES, "USER_AUTH", "USER_ACCT", "USER_CMD"]);
const readsRecordsOf = (t: string) => RECORDS_READ.has(t);

/**
 * Whether add() may read the event's records (its JSON, through the RecordSource): never for an event of none of
 * RECORDS_READ's types that is no exec without argv (execPath) nor an i386 socketcall, whose JSON the parser then need
 * not keep while the event waits for its turn.
 */
export function readsRecords(e: AuditEvent): boolean {
  // i386's socketcall (which call it was) and a saddr that could not be read: connectionOf reads their records
  return e.types.some(readsRecordsOf) || execWithoutArgv(e) || connectionReadsRecords(e);
}

/** An execve or execveat event with no EXECVE record's argv (execPath). */
function execWithoutArgv(e: AuditEvent): boolean {
  return e.argv === undefined && (e.syscall === "execve" || e.syscall === "execveat");
}

export interface SessionTrackerOptions {
  /** Open sessions kept at most; past it the oldest is emitted as it stands (still open). */
  maxOpen?: number;
  /** Commands plus connections kept per session; past it they are counted in `omitted`. */
  maxItems?: number;
  /**
   * Commands plus connections kept across all open sessions (so memory stays flat when sessions never
   * end); past it they are counted in their session's `omitted` until an emitted session frees room.
   */
  maxKept?: number;
  /**
   * Bytes (estimated, see commandBytes) of the items kept across all open sessions: the count caps alone let 5000
   * command lines of 28 KB in 20 sessions that never end take 387 MiB (issue #23). Past it an item is counted in its session's `omitted`.
   */
  maxBytes?: number;
  /**
   * Bytes one open session keeps at most (default half of maxBytes), so one busy session cannot take all; half, so
   * its 10000 items of ordinary size (about 400 bytes) still fit and the count cap is the one that cuts them.
   */
  maxSessionBytes?: number;
  /**
   * How long (log time, ms) an ended session is held before it is written: the grouping's window (its windowMs),
   * the time an event without EOE may come out after the records logged after it (the CLI passes it). A command logged before its
   * session's USER_END then still lands in that session, not in a second "(open)" one. 0 (the default, and -F) writes at once.
   */
  holdMs?: number;
  /**
   * The grouping's newest log time (ms), which its window is counted from (AuditParser.newestMs); without it, the
   * newest event time seen. The events' lag behind it: those of other hosts still open are ahead of the last written.
   */
  clock?: () => number;
  /** The earliest log time (ms) of the events the grouping has not written yet (AuditParser.oldestPendingMs). */
  pending?: () => number;
  /**
   * For a caller that writes each session with sessionLine (sessions --json): each command kept as its JSON text,
   * which sessionLine writes as it is, and a session handed to `emit` with `commands` empty, its commands beside it
   * (HELD). Packed (sessions-pack.ts) they were made objects again (split, an object, an argv array) only
   * to be written as the same JSON: a quarter of what `sessions --json` allocated over the parse (README sessions,
   * round 20). Without it (the text timeline, the page, the library) `commands` holds the commands as objects.
   */
  commandsJson?: boolean;
  /**
   * For a caller that writes each session with formatSession alone (the text timeline): each command kept as its
   * line of the timeline (packLine), which formatSession writes as it is, and a session handed to `emit` with
   * `commands` empty, its lines beside it (HELD). Packed, each was made an object again only to be formatted into
   * that line (round 38). A command whose line could still change is kept packed: its "(as uid)" depends on the
   * session's user, which a session opened by an event with no auid has not yet.
   */
  commandsText?: boolean;
}

/**
 * Where the tracker reads an event's records when it needs them (login and USER_CMD events): the parser's
 * EventJson parses them then, so the CLI's events need not carry their records as objects. Without it (or
 * its method) they are the event's own `records`.
 */
export interface RecordSource {
  recordObjects?(): OutputRecord[];
  /**
   * The line with its records' JSON written whole (EventJson.full): the tracker reads the few fields it needs
   * from those bytes (sessions-login.ts) rather than the records as objects.
   */
  full?(): { recordsJson(): JsonBytes | undefined };
}

/** Bytes of commands and connections kept across open sessions by default (README: sessions peak RSS <= 96 MB). */
const SESSION_BYTES = 12 << 20;

/** The bytes a session's kept items hold, beside it but not in its JSON (JSON.stringify skips symbol keys). */
const KEPT_BYTES = Symbol("keptBytes");
/** The bytes of its own fields from login records (from, terminal, via), likewise. */
const HEAD_BYTES = Symbol("headBytes");
/**
 * The commands an open session keeps, each packed as one string (sessions-pack.ts), likewise; made objects again
 * when it is written. 9500 commands held took 13.5 MB of heap as objects, 6 MB as strings (the second tester's
 * interleaved log; README sessions, round 19).
 */
const HELD = Symbol("heldCommands");

/**
 * An open session's commands and connections until it is written (then its own arrays): most open sessions never
 * keep a connection, and their commands are HELD, so two empty arrays a session were two more objects of the
 * 10000 that stay, among the events' short-lived ones, in the heap's old pages (README sessions, round 19).
 */
const NO_ITEMS = Object.freeze([]) as unknown as never[];

/**
 * A session's optional keys as they are listed in its JSON (OpenSession.keyed): a session's JSON lists them in
 * the order its records first gave them (a login's `from` before or after its `user` …), as JSON.stringify wrote
 * the object when each was added as it came; COMMANDS stands for `commands` and `connections`, which a tracked
 * session lists first and a failed login after its start, end and loginSuccess.
 */
const NODE = 1;
const USER = 2;
const START = 3;
const END = 4;
const FROM = 5;
const HOSTNAME = 6;
const FROM_RAW = 7;
const HOSTNAME_RAW = 8;
const TERMINAL = 9;
const LOGIN_TERMINAL = 10;
const VIA = 11;
const LOGIN_SUCCESS = 12;
const NESTED = 13;
const OMITTED = 14;
const COMMANDS = 15;
/** Keys noted in one order word (4 bits a key; 7 keep it a small integer). */
const PER_WORD = 7;

/**
 * A session as the tracker makes it: every field there from the start (undefined until its records give it), so all
 * sessions share one hidden class. Added as they came, sessions had dozens, and `track`, `release`, `end` and
 * `formatSession` went megamorphic and were deoptimised ("wrong map") again and again (Round 38: 24 deopts, 172 ms
 * more TurboFan compiling than the parse). An undefined field is left out of its JSON, as an absent one was; the
 * order its keys were first given is noted (keyed) and its JSON lists them so (toJSON, jsonAround): byte for byte
 * what JSON.stringify wrote of the object built as they came.
 */
class OpenSession implements Session {
  node: string | undefined = undefined;
  ses: string;
  user: string | undefined = undefined;
  start: string | undefined = undefined;
  end: string | undefined = undefined;
  from: string | undefined = undefined;
  hostname: string | undefined = undefined;
  fromRaw: string | undefined = undefined;
  hostnameRaw: string | undefined = undefined;
  terminal: string | undefined = undefined;
  loginTerminal: string | undefined = undefined;
  via: string | undefined = undefined;
  loginSuccess: boolean | undefined = undefined;
  commands: SessionCommand[] = NO_ITEMS;
  connections: Connection[] = NO_ITEMS;
  nested: NestedSession[] | undefined = undefined;
  omitted: number | undefined = undefined;
  declare [KEPT_BYTES]: number | undefined;
  declare [HEAD_BYTES]: number | undefined;
  declare [HELD]: string | string[] | undefined;
  /** The keys noted (a bit each) and their order, PER_WORD a word: private, so no caller's toEqual sees them. */
  #seen = 0;
  #count = 0;
  #order0 = 0;
  #order1 = 0;
  #order2 = 0;

  constructor(ses: string) {
    this.ses = ses;
    bookkeeping(this);
  }

  /** Notes that key (NODE …) has a value now: its place in the JSON is where it was first given. */
  keyed(key: number): void {
    if ((this.#seen & (1 << key)) !== 0) return;
    this.#seen |= 1 << key;
    const n = this.#count++;
    if (n < PER_WORD) this.#order0 |= key << (4 * n);
    else if (n < 2 * PER_WORD) this.#order1 |= key << (4 * (n - PER_WORD));
    else this.#order2 = key;
  }

  /** One more command, connection or nested session counted, not listed. */
  omit(): void {
    this.omitted = (this.omitted ?? 0) + 1;
    this.keyed(OMITTED);
  }

  /** The n-th key noted. */
  private keyAt(n: number): number {
    if (n < PER_WORD) return (this.#order0 >> (4 * n)) & 15;
    if (n < 2 * PER_WORD) return (this.#order1 >> (4 * (n - PER_WORD))) & 15;
    return this.#order2;
  }

  /** JSON.stringify's: the fields in the order their keys were noted. */
  toJSON(): Record<string, unknown> {
    const o: Record<string, unknown> = { ses: this.ses };
    for (let n = 0; n < this.#count; n++) {
      const key = this.keyAt(n);
      if (key === COMMANDS) {
        o.commands = this.commands;
        o.connections = this.connections;
      } else o[KEY_NAMES[key]!] = this.value(key);
    }
    return o;
  }

  /**
   * The session's JSON (as toJSON's, without indentation) in two parts: up to its commands' `[` and from their `]`,
   * for sessionLine to write the commands' JSON between.
   */
  jsonAround(): [before: string, after: string] {
    let before = `{"ses":${JSON.stringify(this.ses)}`;
    let n = 0;
    for (; n < this.#count; n++) {
      const key = this.keyAt(n);
      if (key === COMMANDS) break;
      before += member(KEY_NAMES[key]!, this.value(key));
    }
    before += ',"commands":[';
    let after = `],"connections":${JSON.stringify(this.connections)}`;
    for (n++; n < this.#count; n++) {
      const key = this.keyAt(n);
      after += member(KEY_NAMES[key]!, this.value(key));
    }
    return [before, `${after}}`];
  }

  private value(key: number): unknown {
    switch (key) {
      case NODE:
        return this.node;
      case USER:
        return this.user;
      case START:
        return this.start;
      case END:
        return this.end;
      case FROM:
        return this.from;
      case HOSTNAME:
        return this.hostname;
      case FROM_RAW:
        return this.fromRaw;
      case HOSTNAME_RAW:
        return this.hostnameRaw;
      case TERMINAL:
        return this.terminal;
      case LOGIN_TERMINAL:
        return this.loginTerminal;
      case VIA:
        return this.via;
      case LOGIN_SUCCESS:
        return this.loginSuccess;
      case NESTED:
        return this.nested;
      default:
        return this.omitted;
    }
  }
}

/** The JSON key of each key number (OpenSession.keyed). */
const KEY_NAMES = [
  "",
  "node",
  "user",
  "start",
  "end",
  "from",
  "hostname",
  "fromRaw",
  "hostnameRaw",
  "terminal",
  "loginTerminal",
  "via",
  "loginSuccess",
  "nested",
  "omitted",
] as const;

/** `,"key":value` as JSON.stringify writes a member; nothing for an undefined value, which it leaves out. */
function member(key: string, value: unknown): string {
  return value === undefined ? "" : `,"${key}":${JSON.stringify(value)}`;
}

/**
 * Gives a new session the tracker's own properties at once, not enumerable: so they are cleared, not deleted, when
 * it is written (deleting a property V8 did not add last turns the object into a dictionary, slow to make and to
 * write, JSON.stringify's slow path: ~100 ms for the 10000 sessions open at the end of the second tester's
 * interleaved log, README sessions round 20), and a caller comparing sessions (toEqual) or listing their keys sees
 * none of them.
 */
function bookkeeping(s: OpenSession): void {
  for (const key of BOOKKEEPING) Object.defineProperty(s, key, HIDDEN);
}

/** Made once: the keys and their descriptor (defineProperty reads it, keeps nothing of it). */
const BOOKKEEPING = [KEPT_BYTES, HEAD_BYTES, HELD] as const;
const HIDDEN: PropertyDescriptor = Object.freeze({ value: undefined, writable: true, enumerable: false, configurable: true });

/** An ended session held for late commands (holdMs): its end's serial and the log time it is written after. */
interface Held {
  s: OpenSession;
  key: string;
  /** Written once an event newer than this (ISO time) arrives, or at flush; undefined: a session to write as is. */
  until?: number;
  /** Its end's log time (ms): it waits while the grouping still has an event of that time or before pending. */
  endMs?: number;
  endSerial?: number;
}

/**
 * A shared bound (maxKept, maxBytes) reached, the sessions holding the most give up a SHARE-th of it at once (share):
 * the open sessions are sorted once per many items kept, not at each.
 */
const SHARE = 32;

/** Hosts whose last session key is kept (hostKeys): a log naming more (forged node= names) makes the others' keys anew. */
const HOST_KEYS = 4096;

/** Ended sessions remembered so their trailing CRED_DISP does not open a new one. */
const CLOSED_REMEMBERED = 4096;

/**
 * Builds per-session timelines from events keyed by (node, ses) and hands each session to `emit` when it
 * ends: the USER_END/USER_LOGOUT of the program that opened it (a sudo inside the session ends only sudo's
 * PAM session), or CRED_DISP when the session never had a USER_END. Events without a session are skipped.
 */
export class SessionTracker {
  private readonly sessions = new Map<string, OpenSession>();
  private readonly closed = new Remembered(CLOSED_REMEMBERED);
  /** Sessions open with no session id (unsetLogin), so ses-unset USER_ENDs are read only while one is. */
  private unsetOpen = 0;
  /**
   * Node and pid of failed USER_AUTH/USER_ACCT written, until the USER_LOGIN failure of that attempt (unsetLogin);
   * bounded as `closed` is.
   */
  private readonly failedAttempts = new Remembered(CLOSED_REMEMBERED);
  /**
   * The session each process's LOGIN record opened, by its ses-unset key (node, pid): sshd's records of the old
   * `PAM: …` form carry no ses=, and the login they describe is that session, not one of its own (bounded as `closed`).
   */
  private readonly loginOf = new Remembered<string>(CLOSED_REMEMBERED);
  /** Of those, the sessions a ses-unset USER_LOGIN described: its process's USER_END (no ses= either) ends them. */
  private readonly adopted = new Remembered<string>(CLOSED_REMEMBERED);
  /**
   * What a ses-unset process's successful PAM records named before its USER_LOGIN: USER_START's terminal (PAM's,
   * `ssh`), so the session's `terminal` and `loginTerminal` mean what they mean for a session with an id (T24 #7),
   * and USER_ACCT's/USER_START's account, the user's name where USER_LOGIN's `id=` is a number (T26 #7). Bounded as
   * `closed`.
   */
  private readonly pamStart = new Remembered<PamStart>(CLOSED_REMEMBERED);
  private readonly maxOpen: number;
  private readonly maxItems: number;
  private readonly maxKept: number;
  private readonly maxBytes: number;
  private readonly maxSessionBytes: number;
  /** Commands plus connections held by the open sessions. */
  private kept = 0;
  /** The session of the last event added (still open), with its node, ses and key. */
  private last: OpenSession | undefined;
  private lastSes: string | undefined;
  private lastNode: string | undefined;
  private lastKey = "";
  /**
   * By host, its last session id and that session's key: on hosts interleaved event by event the last event's
   * session is another host's, and a key made for each event (16 hosts: 47,000 on 40 MiB) was garbage at once.
   */
  private readonly hostKeys = new Map<string, { ses: string; key: string }>();
  /** The host, user, program and terminal names the open sessions share (see Names). */
  private readonly names = new Names();
  /** The oldest open session and the oldest ended key remembered: both are taken out as they are found. */
  private readonly oldestOpen = new Oldest(() => this.sessions.entries());
  /** Sessions written early, still open, past maxOpen; the keys of the latest remembered (bounded as `closed`). */
  writtenEarly = 0;
  private readonly early = new Remembered(CLOSED_REMEMBERED);
  /** Events of sessions written early that found no room for a second entry, not listed. */
  laterEvents = 0;
  /** The session (its key) of the latest events written in parts, by `node id`: their later parts join it. */
  private readonly parts = new Remembered<string>(PARTS_REMEMBERED);
  /** Later parts of execs not listed: their first part's session was written before them, or it was in none. */
  partsLeftOut = 0;
  /** Their estimated bytes (nested sessions' too). */
  private keptBytes = 0;
  /** The open sessions' own fields' estimated bytes: bounded by maxBytes apart from the items. */
  private headBytes = 0;
  private readonly holdMs: number;
  /**
   * Sessions to write, in the order they were finished: an ended one waits here holdMs for late commands, and
   * those after it wait behind it, so the order written stays the order they ended. Bounded by maxOpen.
   */
  private readonly queue: Held[] = [];
  private queueHead = 0;
  /** The ended sessions waiting in the queue, by key (the latest of a key). */
  private readonly ending = new Map<string, Held>();
  /** The newest log time (ms) seen (clock, else the events'). */
  private newest = 0;
  /**
   * The newest time before the last step forward. The grouping writes a single-record event (USER_END) before the
   * events its record's time lets out of the window, so a hold ends only when a later step comes.
   */
  private settled = 0;
  private readonly clock: (() => number) | undefined;
  private readonly pending: (() => number) | undefined;
  private readonly commandsJson: boolean;
  private readonly commandsText: boolean;
  /**
   * The level no open session held more than when share last freed nothing, by count and by bytes: a session at
   * or above it is not given room by looking again (every item of sessions at one level would sort them all) until
   * a session is written, after which sessions may grow again.
   */
  private shareFailed = { count: Number.POSITIVE_INFINITY, bytes: Number.POSITIVE_INFINITY };

  constructor(
    private readonly emit: (s: Session) => void,
    options: SessionTrackerOptions = {},
  ) {
    this.maxOpen = Math.max(1, options.maxOpen ?? 10_000);
    this.maxItems = options.maxItems ?? 10_000;
    this.maxKept = options.maxKept ?? 40_000;
    this.maxBytes = options.maxBytes ?? SESSION_BYTES;
    this.maxSessionBytes = options.maxSessionBytes ?? Math.floor(this.maxBytes / 2);
    this.holdMs = Math.max(0, options.holdMs ?? 0);
    this.clock = options.clock;
    this.pending = options.pending;
    this.commandsJson = options.commandsJson ?? false;
    this.commandsText = !this.commandsJson && (options.commandsText ?? false);
  }

  add(e: AuditEvent, source?: RecordSource): void {
    if (e.id === null || e.time === null) return;
    const waiting = this.queueHead < this.queue.length;
    this.track(e, e.time, e.id, source);
    if (!waiting) return;
    // the clock read only while sessions wait: Date.parse costs at each event. After the event: it may be the late
    // command a held session waits for, no longer pending in the grouping
    const now = this.clock !== undefined ? this.clock() : Date.parse(e.time);
    if (now > this.newest) {
      this.settled = this.newest;
      this.newest = now;
      this.drain();
    }
  }

  /** The key of a session, (node, ses): the same string as the last time the host had this id (hostKeys). */
  private keyOf(node: string | undefined, ses: string): string {
    const host = node ?? "";
    const known = this.hostKeys.get(host);
    if (known?.ses === ses) return known.key;
    const key = `${host} ${ses}`;
    if (known !== undefined) {
      known.ses = ses;
      known.key = key;
    } else if (this.hostKeys.size < HOST_KEYS) this.hostKeys.set(host, { ses, key });
    return key;
  }

  private track(e: AuditEvent, time: string, id: string, source: RecordSource | undefined): void {
    if (e.part !== undefined && e.part > 1) {
      this.laterPart(e, time, id);
      return;
    }
    if (e.ses === undefined || e.ses === "unset") {
      this.unsetLogin(e, time, source);
      return;
    }
    // most events belong to the session of the event before: its key is not made and looked up again
    const same = this.last !== undefined && e.ses === this.lastSes && e.node === this.lastNode;
    const key = same ? this.lastKey : this.keyOf(e.node, e.ses);
    let s = same ? this.last : this.sessions.get(key);
    // no EOE: a command logged before its session's USER_END may come out after it, and belongs to it
    const late = this.ending.size === 0 ? undefined : this.lateFor(key, time, e.serial);
    if (late !== undefined) s = late;
    // the kernel's LOGIN record hands out a session id once a boot: one already open here is an older login whose end
    // the log lost (a crash, then a reboot numbering from 1 again), written as it stands (T23 #1)
    const opens = e.types.includes("LOGIN");
    if (opens && late === undefined && s !== undefined && s.start !== undefined && time > s.start) {
      this.forget(key);
      this.write({ s, key });
      s = undefined;
    }
    if (s === undefined) {
      // the teardown records that follow an ended session's USER_END belong to it, not to a new session
      if (this.closed.has(key) && !opens && e.types.every(isLoginType)) return;
      // a session written early at maxOpen opens a second entry only while there is room: made at once, it wrote
      // the next-oldest early, whose next event did the same, and every open session came out in pieces (T23 #3)
      if (this.early.size > 0 && this.early.has(key)) {
        if (this.sessions.size >= this.maxOpen) {
          this.laterEvents++;
          return;
        }
        this.early.delete(key);
      }
      s = new OpenSession(e.ses);
      s.keyed(COMMANDS);
      if (e.node !== undefined) {
        s.node = this.names.get(e.node);
        s.keyed(NODE);
      }
      this.sessions.set(key, s);
      if (this.sessions.size > this.maxOpen) this.writeOldestOpen();
      this.weighHead(s);
    }
    if (opens && e.pid !== undefined) this.loginOf.add(`${e.node ?? ""} unset ${e.pid}`, key);
    if (late === undefined) {
      this.last = s;
      this.lastSes = e.ses;
      this.lastNode = e.node;
      this.lastKey = key;
    }
    if (s.user === undefined && e.auid !== undefined && e.auid !== "unset") {
      s.user = this.names.get(e.auid);
      s.keyed(USER);
    }
    if (s.start === undefined) {
      // flat: the time is a string of parts, which the session keeps for as long as it is open
      s.start = flat(time);
      s.keyed(START);
    }
    let ended = false;
    // e.types first: records are parsed when read (RecordSource), and most events have no login record
    const login = e.types.some(isLoginType) || e.types.includes("USER_AUTH") || e.types.includes("USER_ACCT");
    for (const r of login ? recordsOf(e, source) : NO_RECORDS) {
      const f = r.fields;
      // a su/sudo refused at its password (T23 #6) or, the password right, at PAM's account stage (an expired or
      // locked target, pam_access: T47 F7): an attempt to switch user, listed as a failed nested session
      if (r.type === "USER_AUTH" || r.type === "USER_ACCT") {
        const exe = str(f.exe);
        if (loginResult(str(f.res)) === false && exe !== undefined && switchesUser(exe)) this.nest(s, exe, time, f, true);
        continue;
      }
      if (!LOGIN_TYPES.has(r.type)) continue;
      const exe = str(f.exe);
      // su/sudo never open a login (they set no loginuid): when the login's own records are not in the input (an
      // excerpt, -F --from-end, sshd records without ses=) theirs must not become the session's (T23 #4)
      const nests = exe !== undefined && switchesUser(exe);
      if (!nests) {
        this.from(s, r);
        const terminal = str(f.terminal);
        if (terminal && s.terminal === undefined) {
          s.terminal = this.names.get(terminal);
          s.keyed(TERMINAL);
        }
        if (terminal && r.type === "USER_LOGIN" && terminal !== s.terminal && s.loginTerminal === undefined) {
          s.loginTerminal = this.names.get(terminal);
          s.keyed(LOGIN_TERMINAL);
        }
        if (exe && r.type !== "LOGIN" && s.via === undefined) {
          s.via = this.names.get(exe);
          s.keyed(VIA);
        }
        if (r.type === "USER_LOGIN" || r.type === "USER_START") {
          const ok = loginResult(str(f.res));
          if (ok !== undefined) {
            s.loginSuccess = ok && s.loginSuccess !== false;
            s.keyed(LOGIN_SUCCESS);
          }
        }
      }
      // su/sudo inside the session: a PAM session of another program, switching to acct
      if (r.type === "USER_START" && exe !== undefined && (nests || s.via !== undefined) && exe !== s.via) this.nest(s, exe, time, f);
      if (r.type === "USER_END" && exe !== undefined && exe !== s.via) {
        const open = s.nested?.findLast((n) => n.via === exe && n.end === undefined);
        if (open !== undefined) open.end = time;
      }
      if ((r.type === "USER_END" || r.type === "USER_LOGOUT") && (exe === undefined || exe === s.via)) ended = true;
      if (r.type === "CRED_DISP" && s.end === undefined && (exe === undefined || exe === s.via)) ended = true;
    }
    if (login) this.weighHead(s);
    // an item is made only when the count caps leave room for it (a log whose sessions never end omits most)
    // an exec in parts: its later parts, which carry no ses=, join the session its first part is in
    if (e.part !== undefined) this.parts.add(partKey(e), key);
    const argv = e.argv ?? (e.part === undefined ? execPath(e, source) : undefined);
    if (argv !== undefined && this.room(s)) {
      const c: SessionCommand = { time, id, argv };
      if (e.argvRaw !== undefined) c.argvRaw = e.argvRaw;
      if (e.part !== undefined) c.part = e.part;
      if (e.pid !== undefined) c.pid = e.pid;
      if (e.uid !== undefined) c.uid = e.uid;
      // a refused exec's exe is the program that tried it (the shell), not the one it named
      if (e.exe !== undefined && (e.argv !== undefined || e.success !== false)) c.exe = e.exe;
      if (e.cwd !== undefined) c.cwd = e.cwd;
      if (e.success !== undefined) c.success = e.success;
      if (e.success === false && e.exit !== undefined) c.exit = e.exit;
      this.keepCommand(s, c);
    }
    // sudo's USER_CMD: the command line asked for, also when sudo refused it (no exec follows then)
    const cmd =
      e.argv === undefined && e.types.includes("USER_CMD")
        ? recordsOf(e, source).find((r) => r.type === "USER_CMD" && str(r.fields.cmd) !== undefined)
        : undefined;
    if (cmd !== undefined && this.room(s)) {
      const text = str(cmd.fields.cmd)!;
      const c: SessionCommand = { time, id, argv: [text] };
      if (e.pid !== undefined) c.pid = e.pid;
      if (e.uid !== undefined) c.uid = e.uid;
      const via = str(cmd.fields.exe);
      if (via !== undefined) c.via = via;
      if (e.cwd !== undefined) c.cwd = e.cwd;
      if (e.success !== undefined) c.success = e.success;
      // a hex cmd= that is not UTF-8 is U+FFFD in argv: its exact bytes kept as an exec's are (T24 #5), in the
      // hex's case as logged, so it matches the plain parse's raw.cmd (T25 #8)
      const lost = cmd.raw?.cmd === undefined ? undefined : lostBytes(text, cmd.raw.cmd);
      if (lost !== undefined) c.argvRaw = { "0": lost };
      this.keepCommand(s, c);
    }
    const conn = connectionOf(e, () => recordsOf(e, source));
    if (conn && this.room(s)) {
      if (s.connections === NO_ITEMS) s.connections = [];
      this.keep(s, connectionBytes(conn), s.connections, conn);
    }
    if (ended && late === undefined) this.end(s, key, time, e.serial);
  }

  /**
   * A later part of an event written in parts (a command line over 1 MiB): the rest of its arguments, listed in
   * the session its first part went to, as a command of the same id and time with its part number, or counted in
   * that session's `omitted` past the caps. Its first part's session written already (or the first part was in
   * none), it is counted in partsLeftOut, which the run says on stderr: it carries no ses= of its own, and was
   * dropped unsaid (T34 #3).
   */
  private laterPart(e: AuditEvent, time: string, id: string): void {
    const key = this.parts.get(partKey(e));
    const s = key === undefined ? undefined : (this.sessions.get(key) ?? this.ending.get(key)?.s);
    if (s === undefined) {
      if (e.argv !== undefined) this.partsLeftOut++;
      return;
    }
    if (e.argv === undefined || !this.room(s)) return;
    const c: SessionCommand = { time, id, argv: e.argv };
    if (e.argvRaw !== undefined) c.argvRaw = e.argvRaw;
    c.part = e.part;
    this.keepCommand(s, c);
  }

  /** Ends session s (of key) at time: written now, or held for its late commands (holdMs). */
  private end(s: OpenSession, key: string, time: string, serial: number | null): void {
    s.end = time;
    s.keyed(END);
    this.forget(key);
    this.closed.add(key);
    if (this.holdMs === 0) {
      this.write({ s, key });
      return;
    }
    // from the newest time, not the end's: the grouping lets an event out once the newest time is a window past
    // it, and the events of a host whose clock lags are a window behind that (a log of many hosts)
    const endMs = Date.parse(time);
    const now = Math.max(this.clock?.() ?? 0, Number.isFinite(endMs) ? endMs : 0);
    this.newest = Math.max(this.newest, now);
    const held: Held = { s, key, until: this.newest + this.holdMs, endMs: Number.isFinite(endMs) ? endMs : -Infinity };
    if (serial !== null) held.endSerial = serial;
    this.ending.set(key, held);
    this.write(held);
  }

  /** A su/sudo opened (or `refused`) inside s by exe, switching to its record's acct. */
  private nest(s: OpenSession, exe: string, time: string, f: Record<string, FieldValue>, refused = false): void {
    const nested: NestedSession = { via: exe, start: time };
    const acct = str(f.acct);
    // a refusal's acct is the target only where PAM checks the target (su): sudo and its kind check the user who
    // typed the password, and a failed one names no target anywhere (T47 F7: "sudo -> alice" for alice's sudo)
    if (acct !== undefined && (!refused || checksTarget(exe))) nested.user = acct;
    const ok = loginResult(str(f.res));
    if (ok !== undefined) nested.success = ok;
    s.nested ??= [];
    s.keyed(NESTED);
    // past the caps it is counted in omitted like a command: a session never loses one silently
    if (s.nested.length < this.maxItems && this.fits(s, nestedBytes(nested))) s.nested.push(nested);
    else s.omit();
  }

  /** The ended session (still held) of key that an event of this time and serial, not after its end, belongs to. */
  private lateFor(key: string, time: string, serial: number | null): OpenSession | undefined {
    const held = this.ending.get(key);
    if (held === undefined) return undefined;
    const end = held.s.end!;
    if (time < end || (time === end && (serial === null || held.endSerial === undefined || serial <= held.endSerial))) return held.s;
    return undefined;
  }

  /** Queues a finished session behind those before it (past maxOpen queued, the first is written now). */
  private write(held: Held): void {
    this.queue.push(held);
    if (this.queue.length - this.queueHead > this.maxOpen) this.writeFirst();
    else this.drain();
  }

  /** Writes the queued sessions from the first up to one still held (its hold not over by the settled time). */
  private drain(): void {
    while (this.queueHead < this.queue.length) {
      const { until, endMs } = this.queue[this.queueHead]!;
      if (until !== undefined && this.settled <= until) return;
      // past the window, an event behind one of a host whose clock is ahead may still be open: the grouping says
      if (endMs !== undefined && this.pending !== undefined && this.pending() <= endMs) return;
      this.writeFirst();
    }
  }

  private writeFirst(): void {
    const held = this.queue[this.queueHead]!;
    this.queue[this.queueHead++] = undefined as unknown as Held;
    if (this.queueHead === this.queue.length || this.queueHead > 1024) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    if (this.ending.get(held.key) === held) this.ending.delete(held.key);
    this.release(held.s);
  }

  /**
   * A login with no session id (ses=unset). A failed one is written at once as a session of its own, with the
   * account tried, where from and how, and loginSuccess false, so failed logins are listed: one an attempt, as
   * `aureport --login` counts them, so the USER_LOGIN failure sshd and login(1) write after PAM's USER_AUTH/USER_ACCT
   * failure of the same process is not a second (T23 #5). A successful USER_LOGIN with no session id (a container,
   * no pam_loginuid) opens a session of its own too, keyed by its process, ended by that process's USER_END or
   * USER_LOGOUT (T23 #2): its commands carry no session id either and are not attributed to it.
   */
  private unsetLogin(e: AuditEvent, time: string, source: RecordSource | undefined): void {
    const ends = (this.unsetOpen > 0 || this.adopted.size > 0) && e.types.some(isEndType);
    if (!ends && !e.types.some(isUnsetLoginType)) return;
    const pidKey = `${e.node ?? ""} unset ${e.pid ?? ""}`;
    for (const r of recordsOf(e, source)) {
      const f = r.fields;
      if ((r.type === "USER_START" || r.type === "USER_ACCT") && e.pid !== undefined && loginResult(str(f.res)) === true) {
        const start = this.pamStart.get(pidKey) ?? {};
        const terminal = r.type === "USER_START" ? str(f.terminal) : undefined;
        if (terminal) start.terminal = terminal;
        const acct = str(f.acct);
        if (acct) start.acct = acct;
        if (start.terminal !== undefined || start.acct !== undefined) this.pamStart.add(pidKey, start);
      }
      if (r.type === "USER_START") continue;
      if (ends && (r.type === "USER_END" || r.type === "USER_LOGOUT") && this.adopted.size > 0) {
        const key = this.adopted.get(pidKey);
        const open = key === undefined ? undefined : this.sessions.get(key);
        if (key !== undefined && open !== undefined && (str(f.exe) ?? open.via) === open.via) {
          this.adopted.delete(pidKey);
          this.end(open, key, time, e.serial);
          return;
        }
      }
      if (ends && (r.type === "USER_END" || r.type === "USER_LOGOUT")) {
        const open = this.sessions.get(pidKey);
        if (open === undefined || (str(f.exe) ?? open.via) !== open.via) continue;
        open.end = time;
        open.keyed(END);
        this.forget(pidKey);
        this.write({ s: open, key: pidKey });
        return;
      }
      if (r.type !== "USER_LOGIN" && r.type !== "USER_AUTH" && r.type !== "USER_ACCT") continue;
      // a USER_LOGIN not failed opens the login: one whose result is unknown (res=success), none) is listed with
      // none claimed, never dropped (T27 #5)
      const ok = loginResult(str(f.res));
      if (ok !== false && r.type === "USER_LOGIN" && e.pid !== undefined && this.describeLogin(pidKey, r, ok)) return;
      if (ok !== false && r.type === "USER_LOGIN" && e.pid !== undefined && !this.sessions.has(pidKey)) {
        const s = new OpenSession("unset");
        s.keyed(COMMANDS);
        if (e.node !== undefined) {
          s.node = this.names.get(e.node);
          s.keyed(NODE);
        }
        const pam = this.pamStart.take(pidKey);
        const user = pam?.acct ?? str(f.id) ?? str(f.acct);
        if (user !== undefined) {
          s.user = this.names.get(user);
          s.keyed(USER);
        }
        s.start = flat(time);
        s.keyed(START);
        this.describe(s, r);
        this.terminals(s, pam?.terminal, str(f.terminal));
        if (ok) {
          s.loginSuccess = true;
          s.keyed(LOGIN_SUCCESS);
        }
        this.sessions.set(pidKey, s);
        this.unsetOpen++;
        if (this.sessions.size > this.maxOpen) this.writeOldestOpen();
        this.weighHead(s);
        return;
      }
      if (ok !== false) continue;
      const attempt = `${e.node ?? ""} ${e.pid ?? ""}`;
      if (r.type === "USER_LOGIN" && e.pid !== undefined && this.failedAttempts.delete(attempt)) return;
      const s = new OpenSession("unset");
      s.start = time;
      s.end = time;
      s.loginSuccess = false;
      // a failed login's keys in the order it always listed them: its times and result before its commands
      s.keyed(START);
      s.keyed(END);
      s.keyed(LOGIN_SUCCESS);
      s.keyed(COMMANDS);
      if (e.node !== undefined) {
        s.node = e.node;
        s.keyed(NODE);
      }
      const user = str(f.acct) ?? (e.auid !== "unset" ? e.auid : undefined) ?? str(f.id);
      if (user !== undefined) {
        s.user = user;
        s.keyed(USER);
      }
      this.describe(s, r);
      if (r.type !== "USER_LOGIN" && e.pid !== undefined) {
        this.failedAttempts.add(attempt);
      }
      this.write({ s, key: "" });
      return;
    }
  }

  /**
   * Where a login came from, as its first record that says: the address, else the host name; and the host name
   * too when it is another (sshd with UseDNS, PAM's rhost), as aureport --login shows it (T23 #7).
   */
  private from(s: OpenSession, r: OutputRecord): void {
    if (s.from !== undefined) return;
    const f = r.fields;
    // an empty addr= (PAM with no rhost, as sshd's USER_LOGIN writes it) says nothing: the host name is where from
    const addr = str(f.addr) || undefined;
    const hostname = str(f.hostname) || undefined;
    const from = addr ?? hostname;
    if (!from) return;
    s.from = from;
    s.keyed(FROM);
    // a name that is not UTF-8 (libaudit logs PAM's rhost as the client gave it): its bytes, so two such hosts
    // differ here as in the plain parse
    const fromRaw = rawBytes(from, r.raw?.[addr === undefined ? "hostname" : "addr"]);
    if (fromRaw !== undefined) {
      s.fromRaw = fromRaw;
      s.keyed(FROM_RAW);
    }
    if (addr && hostname && hostname !== addr) {
      s.hostname = hostname;
      s.keyed(HOSTNAME);
      const hostnameRaw = rawBytes(hostname, r.raw?.hostname);
      if (hostnameRaw !== undefined) {
        s.hostnameRaw = hostnameRaw;
        s.keyed(HOSTNAME_RAW);
      }
    }
  }

  /**
   * A successful (or unknown: `ok`) USER_LOGIN with no ses= of a process whose LOGIN record opened a session (sshd's old `PAM: …`
   * records): it describes that session (where from, terminal, program), whose end is then that process's USER_END,
   * not a second session of its own keyed by the process (round 24). False when no such session is open.
   */
  private describeLogin(pidKey: string, r: OutputRecord, ok: boolean | undefined): boolean {
    const key = this.loginOf.get(pidKey);
    const s = key === undefined ? undefined : this.sessions.get(key);
    if (key === undefined || s === undefined) return false;
    const f = r.fields;
    this.from(s, r);
    const pam = this.pamStart.take(pidKey);
    this.terminals(s, pam?.terminal, str(f.terminal));
    const exe = str(f.exe);
    if (exe !== undefined && s.via === undefined) {
      s.via = this.names.get(exe);
      s.keyed(VIA);
    }
    if (ok && s.loginSuccess !== false) {
      s.loginSuccess = true;
      s.keyed(LOGIN_SUCCESS);
    }
    this.weighHead(s);
    this.adopted.add(pidKey, key);
    return true;
  }

  /**
   * A ses-unset USER_LOGIN's terminal (the device) on its session: `terminal` is PAM's from the process's USER_START
   * when it named one and `loginTerminal` the device, as for a session with an id; else the device is `terminal`.
   */
  private terminals(s: OpenSession, pam: string | undefined, device: string | undefined): void {
    const terminal = pam ?? s.terminal ?? device;
    if (terminal !== undefined) {
      s.terminal = this.names.get(terminal);
      s.keyed(TERMINAL);
    }
    if (device && device !== s.terminal && s.loginTerminal === undefined) {
      s.loginTerminal = this.names.get(device);
      s.keyed(LOGIN_TERMINAL);
    }
  }

  /** A login with no session id: where from, its terminal and its program, from its record's fields. */
  private describe(s: OpenSession, r: OutputRecord): void {
    const f = r.fields;
    this.from(s, r);
    const terminal = str(f.terminal);
    if (terminal !== undefined) {
      s.terminal = terminal;
      s.keyed(TERMINAL);
    }
    const exe = str(f.exe);
    if (exe !== undefined) {
      s.via = exe;
      s.keyed(VIA);
    }
  }

  /** Emits the sessions still open (end of input), oldest first. */
  flush(): void {
    while (this.flushOne());
  }

  /**
   * Emits the oldest session still open; false when none is. The CLI calls it until false, waiting for its output
   * between: written all at once, the up to 10000 sessions open at the end were queued as text in one go, and
   * that queue was the run's peak (+5 to +8 MB on the second tester's interleaved log, README sessions).
   */
  flushOne(): boolean {
    // the ended sessions first, as they were queued: no event is left to come to them
    if (this.queueHead < this.queue.length) {
      this.writeFirst();
      return true;
    }
    const first = this.oldestOpen.next();
    if (first === undefined) return false;
    this.forget(first[0]);
    this.release(first[1]);
    return true;
  }

  /** Past maxOpen: the oldest open session is written as it stands (still open), behind those queued before it. */
  private writeOldestOpen(): void {
    const first = this.oldestOpen.next();
    if (first === undefined) return;
    this.writtenEarly++;
    this.early.add(first[0]);
    this.forget(first[0]);
    this.write({ s: first[1], key: first[0] });
  }

  /** Whether the count caps leave room for one more command or connection in s, else it is counted omitted. */
  private room(s: OpenSession): boolean {
    if (heldCount(s) + s.connections.length < this.maxItems && (this.kept < this.maxKept || this.share(s, 0, items))) return true;
    s.omit();
    return false;
  }

  /** Keeps item in s's list if its bytes fit (then it counts as kept), else counts it omitted. */
  private keep<T>(s: OpenSession, bytes: number, list: T[], item: T): void {
    if (this.fits(s, bytes)) {
      list.push(item);
      this.kept++;
    } else {
      s.omit();
    }
  }

  /**
   * Keeps command c in s (packed, HELD) if its bytes fit, else counts it omitted. Its bytes are weighed
   * as the object it was, not the shorter text: the bound and so what is listed or omitted stay as they were.
   */
  private keepCommand(s: OpenSession, c: SessionCommand): void {
    const bytes = commandBytes(c);
    if (this.fits(s, bytes)) {
      // its line is the one written once the session's user is known (or the command names no uid to compare)
      const text = this.commandsJson
        ? commandJson(c)
        : this.commandsText && (c.uid === undefined || s.user !== undefined)
          ? packLine(escapeControls(commandText(s, c)), bytes)
          : packCommand(c);
      const held = s[HELD];
      // the first alone, without an array: most sessions keep one or two
      if (held === undefined) s[HELD] = text;
      else if (typeof held === "string") s[HELD] = [held, text];
      else held.push(text);
      this.kept++;
    } else {
      s.omit();
    }
  }

  /** A session no longer open: out of the map and of the last-session shortcut. */
  private forget(key: string): void {
    if (this.unsetOpen > 0 && this.sessions.get(key)?.ses === "unset") this.unsetOpen--;
    this.sessions.delete(key);
    this.last = undefined;
  }

  /** Whether `bytes` more fit in s's share and in all open sessions' (then they are counted as kept). */
  private fits(s: OpenSession, bytes: number): boolean {
    const own = s[KEPT_BYTES] ?? 0;
    if (own + bytes > this.maxSessionBytes) return false;
    if (this.keptBytes + bytes > this.maxBytes && !this.share(s, bytes, keptBytes)) return false;
    s[KEPT_BYTES] = own + bytes;
    this.keptBytes += bytes;
    return true;
  }

  /**
   * Past a shared bound, room for s's next item (`bytes`; 0 for the count) from the open sessions that hold the
   * most by `measure`: each gives up its latest items (counted in its `omitted`) down to one level, none below twice
   * what s will hold (so sessions near one level do not take from each other in turn, each item packed to be dropped
   * again: +20-35 % `sessions` CPU on the testers' longargv log with no factor). Without it the bound, once full,
   * was the oldest sessions' for good: sessions that never end (a lost USER_END, a daemon's) starved every later
   * one, which listed none of its commands (T21 #2: 923 of 4,914 sessions on the tester's interleaved16 log). Taken from the largest, not written early as they stand:
   * a busy session written early comes back as a second entry, and then a third (fixs21: (a)'s sessions 6,389 ->
   * 25,992). Max-min fair: a session that keeps its share keeps its first commands. Whether s's item fits now.
   */
  private share(s: OpenSession, bytes: number, measure: (s: OpenSession) => number): boolean {
    const byCount = measure === items;
    const floor = 2 * (measure(s) + (byCount ? 1 : bytes));
    if (floor >= (byCount ? this.shareFailed.count : this.shareFailed.bytes)) return false;
    const over = byCount ? this.kept + 1 - this.maxKept : this.keptBytes + bytes - this.maxBytes;
    const need = over + Math.floor((byCount ? this.maxKept : this.maxBytes) / SHARE);
    const largest: { s: OpenSession; m: number }[] = [];
    for (const open of this.sessions.values()) {
      const m = measure(open);
      if (m > floor && open !== s) largest.push({ s: open, m });
    }
    largest.sort((a, b) => b.m - a.m);
    // the level the k largest are cut to so they give up `need` together, not below the next one nor the floor
    let sum = 0;
    let level = floor;
    for (let k = 0; k < largest.length; k++) {
      sum += largest[k]!.m;
      const next = Math.max(floor, largest[k + 1]?.m ?? floor);
      if (sum - (k + 1) * next >= need || next === floor) {
        level = Math.max(next, Math.floor((sum - need) / (k + 1)));
        break;
      }
    }
    for (const { s: large } of largest) {
      if (measure(large) <= level) break;
      while (measure(large) > level && this.dropLatest(large));
    }
    if (byCount ? this.kept < this.maxKept : this.keptBytes + bytes <= this.maxBytes) return true;
    if (byCount) this.shareFailed.count = floor;
    else this.shareFailed.bytes = floor;
    return false;
  }

  /** Takes s's latest kept command (else connection) out, into its `omitted`; false when it keeps neither. */
  private dropLatest(s: OpenSession): boolean {
    const held = s[HELD];
    let bytes: number;
    if (held !== undefined) {
      const text = typeof held === "string" ? held : held.pop()!;
      if (typeof held === "string" || held.length === 0) s[HELD] = undefined;
      // weighed again as it was kept: the command made again from its text, as release makes it
      bytes = this.commandsJson
        ? commandBytes(JSON.parse(heldText(text as HeldBytes)) as SessionCommand)
        : (lineBytes(text) ?? commandBytes(unpackCommand(text)));
    } else if (s.connections.length > 0) {
      bytes = connectionBytes(s.connections.pop()!);
    } else return false;
    s[KEPT_BYTES] = (s[KEPT_BYTES] ?? 0) - bytes;
    this.keptBytes -= bytes;
    this.kept--;
    s.omit();
    return true;
  }

  /** Hands a session over; its items no longer count against maxKept and maxBytes. */
  private release(s: OpenSession): void {
    this.shareFailed.count = this.shareFailed.bytes = Number.POSITIVE_INFINITY;
    // each command back as it was kept: its fields in the same order, so the same JSON and text
    const held = s[HELD];
    const commands = heldCount(s);
    // commandsJson, commandsText: the commands' JSON or lines stay HELD, for sessionLine or formatSession to write
    if (this.commandsJson || this.commandsText) s.commands = [];
    else {
      s.commands = held === undefined ? [] : typeof held === "string" ? [unpackCommand(held)] : held.map(unpackCommand);
      if (held !== undefined) s[HELD] = undefined;
    }
    if (s.connections === NO_ITEMS) s.connections = [];
    this.kept -= commands + s.connections.length;
    this.keptBytes -= s[KEPT_BYTES] ?? 0;
    this.headBytes -= s[HEAD_BYTES] ?? 0;
    // cleared, not deleted (see bookkeeping)
    s[KEPT_BYTES] = undefined;
    s[HEAD_BYTES] = undefined;
    this.emit(s);
  }

  /**
   * Weighs s's own fields when it opens and after a login event set them: a log can make them big (a 500 KB addr=
   * in each of thousands of logins, a huge node=, which its key holds too), and they cannot be left out as an item
   * can. Past maxBytes the oldest open sessions are written as they stand, still open, as past maxOpen.
   */
  private weighHead(s: OpenSession): void {
    const bytes =
      2 * textBytes(s.node) +
      textBytes(s.from) +
      textBytes(s.hostname) +
      textBytes(s.fromRaw) +
      textBytes(s.hostnameRaw) +
      textBytes(s.terminal) +
      textBytes(s.loginTerminal) +
      textBytes(s.via);
    this.headBytes += bytes - (s[HEAD_BYTES] ?? 0);
    s[HEAD_BYTES] = bytes;
    if (this.headBytes <= this.maxBytes) return;
    // the queued (ended) sessions first, held or not: they are written before the open ones either way
    while (this.headBytes > this.maxBytes && this.queueHead < this.queue.length) this.writeFirst();
    for (const [key, open] of this.sessions) {
      if (this.headBytes <= this.maxBytes) return;
      if (open === s) continue;
      this.forget(key);
      this.release(open);
    }
  }
}

/** What a ses-unset process's PAM records said before its USER_LOGIN (SessionTracker.pamStart). */
interface PamStart {
  terminal?: string;
  acct?: string;
}

/**
 * One string for each short name (host, user, program, terminal) the open sessions keep: each event brings its
 * own copy, and 10000 open sessions kept 10000 copies of 16 host names and 4500 of two programs' (the second
 * tester's interleaved log), objects that stay in the heap's old pages among the events' short-lived ones.
 * Bounded: names up to NAME_LENGTH characters, NAMES of them; past that a name is kept as it came.
 */
class Names {
  private readonly known = new Map<string, string>();

  get(name: string): string {
    if (name.length > NAME_LENGTH) return name;
    const known = this.known.get(name);
    if (known !== undefined) return known;
    if (this.known.size < NAMES) this.known.set(name, name);
    return name;
  }
}

const NAMES = 1024;
const NAME_LENGTH = 64;

/** Programs that switch user inside a login (a PAM session of their own) and never open one. */
const SWITCHERS = new Set(["su", "sudo", "sudo-rs", "sudoedit", "doas", "pkexec", "runuser", "ksu"]);

/**
 * The program an execve with no EXECVE record named: its first PATH record's name, as the one argument. The kernel
 * writes EXECVE only once the binary is loaded, so an exec refused (EACCES on a noexec /tmp, ENOENT) has none and
 * was left out of its session (T47 F6); one whose EXECVE a cut log lost likewise. undefined for any other event.
 */
function execPath(e: AuditEvent, source?: RecordSource): string[] | undefined {
  if (!execWithoutArgv(e)) return undefined;
  const path = recordsOf(e, source).find((r) => r.type === "PATH");
  const name = path === undefined ? undefined : str(path.fields.name);
  // no PATH either (a cut event): still an exec of the session, its program not named in the log (T49 N1)
  return name === undefined ? [] : [name];
}

function switchesUser(exe: string): boolean {
  return SWITCHERS.has(programName(exe));
}

/** An executable's file name, without its directory. */
function programName(exe: string): string {
  return exe.slice(exe.lastIndexOf("/") + 1);
}

/**
 * Switchers whose PAM authentication and account check are of the target user (su asks for root's password): the
 * rest (sudo, doas, pkexec) check the user who runs them (sudoers' default; polkit asks an admin).
 */
const TARGET_CHECKED = new Set(["su", "runuser", "ksu"]);

function checksTarget(exe: string): boolean {
  return TARGET_CHECKED.has(programName(exe));
}

/** Commands and connections an open session keeps (share's measure for maxKept). */
function items(s: OpenSession): number {
  return heldCount(s) + s.connections.length;
}

/** The bytes an open session's items hold (share's measure for maxBytes). */
function keptBytes(s: OpenSession): number {
  return s[KEPT_BYTES] ?? 0;
}

/** Commands an open session holds (HELD). */
function heldCount(s: OpenSession): number {
  const held = s[HELD];
  return held === undefined ? 0 : typeof held === "string" ? 1 : held.length;
}

/**
 * The same text as one flat string. V8 makes a string that is built up (a template, `+`) a tree of its parts; a
 * slice of it copies it flat first, and the slice then holds only that copy.
 */
function flat(text: string): string {
  return ` ${text}`.slice(1);
}

/** The event's records; from its JSON only their type and the fields the tracker reads (loginRecords). */
function recordsOf(e: AuditEvent, source: RecordSource | undefined): OutputRecord[] {
  const records = readRecords(e, source);
  // a record not read whole is not read at all (readWhole); most events have none, and no array is made for them
  return records.every(readWhole) ? records : records.filter(readWhole);
}

function readRecords(e: AuditEvent, source: RecordSource | undefined): OutputRecord[] {
  if (source?.full !== undefined) {
    const json = source.full().recordsJson();
    // no records' JSON: none, as JSON.parse reads the empty list
    const records = json === undefined ? [] : loginRecords(json.buf, json.length);
    if (records !== undefined) return records;
  }
  return source?.recordObjects === undefined ? e.records : source.recordObjects();
}

/*
 * What a kept item costs, estimated from V8's layout (64-bit, no pointer compression, as Node ships): a string is a
 * 16-byte header plus a byte a character (two for text beyond Latin-1), rounded up, and the slot that points at it;
 * an object or array its header and 8 bytes a slot. The process's RSS grows by about twice this (the heap's room
 * to grow between collections): measured in the README (sessions).
 */
const TEXT = 24;
const OBJECT = 24;
const SLOT = 8;

function textBytes(s: string | undefined): number {
  return s === undefined ? 0 : TEXT + SLOT + (WIDE.test(s) ? 2 * s.length : s.length);
}

function commandBytes(c: SessionCommand): number {
  let n = OBJECT + 9 * SLOT + OBJECT + textBytes(c.time) + textBytes(c.id) + textBytes(c.pid) + textBytes(c.uid);
  n += textBytes(c.exe) + textBytes(c.cwd) + textBytes(c.via) + textBytes(c.exit);
  for (const a of c.argv) n += textBytes(a);
  if (c.argvRaw !== undefined) {
    n += OBJECT;
    for (const [index, hex] of Object.entries(c.argvRaw)) n += SLOT + textBytes(index) + textBytes(hex);
  }
  return n;
}

function connectionBytes(c: Connection): number {
  let n = OBJECT + 18 * SLOT;
  for (const v of Object.values(c)) if (typeof v === "string") n += textBytes(v);
  return n;
}

function nestedBytes(n: NestedSession): number {
  return OBJECT + 6 * SLOT + textBytes(n.via) + textBytes(n.user) + textBytes(n.start);
}

function str(v: FieldValue | undefined): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** The hex of a value's bytes from its record's raw when the text lost them (U+FFFD), else undefined. */
function rawBytes(text: string, raw: FieldValue | undefined): string | undefined {
  return typeof raw === "string" ? lostBytes(text, raw) : undefined;
}

/**
 * `prefix`, the session's JSON (JSON.stringify's, without indentation) and a newline, as UTF-8 bytes in a buffer of
 * `lines`: a session written with commandsJson has its commands' JSON put between its `"commands":[` and `]`
 * (OpenSession.jsonAround), copied as the bytes they are held as (HeldBytes). A session's text is never made: for a
 * command beyond Latin-1 it was a two-byte string of twice its bytes, joined, then copied flat again to be encoded
 * (README sessions, rounds 20 and 22).
 */
export function sessionLine(prefix: string, s: Session, lines: LineBuffer): Buffer {
  const held = s instanceof OpenSession ? (s[HELD] as HeldBytes | HeldBytes[] | undefined) : undefined;
  if (held === undefined) return lines.text(`${prefix}${JSON.stringify(s)}\n`);
  const [head, tail] = (s as OpenSession).jsonAround();
  const before = `${prefix}${head}`;
  const after = `${tail}\n`;
  let size = Buffer.byteLength(before) + Buffer.byteLength(after);
  if (typeof held === "string") size += held.length;
  else for (const c of held) size += c.length + 1;
  const line = lines.take(size);
  let at = line.write(before);
  if (typeof held === "string") at += line.write(held, at, "latin1");
  else
    for (let i = 0; i < held.length; i++) {
      if (i > 0) line[at++] = 44 /* , */;
      at += line.write(held[i]!, at, "latin1");
    }
  at += line.write(after, at);
  return line.subarray(0, at);
}

/**
 * The buffer sessions' lines are written into (sessionLine), taken again once the output is done with the last
 * line written into it. A buffer a line dies unused in the heap until a collection: at the end of input, where the
 * open sessions are written one after another and little else is allocated, no scavenge came, and every line
 * written stayed (the testers' longargv log: +10 MB of peak RSS for its 11.7 MB of sessions; README sessions,
 * round 22). Kept at the size of the longest line written, which the budget bounds (one session's half of it).
 */
export class LineBuffer {
  private free: Buffer | undefined;

  /** A buffer of at least `size` bytes for one line: the one given back if it is long enough. */
  take(size: number): Buffer {
    const free = this.free;
    if (free !== undefined && free.length >= size) {
      this.free = undefined;
      return free;
    }
    // a quarter more: sessions' lines of about one length (a few bytes apart) then share one
    return Buffer.allocUnsafeSlow(Math.max(Math.ceil(size * 1.25), LINE_BYTES));
  }

  /** A line of a buffer take() gave, no longer needed: the buffer may be taken again (the longer one kept). */
  give(line: Buffer): void {
    const whole = Buffer.from(line.buffer, 0, line.buffer.byteLength);
    if (this.free === undefined || whole.length > this.free.length) this.free = whole;
  }

  /** text as a line of UTF-8 bytes in a buffer take() gave. */
  text(text: string): Buffer {
    const line = this.take(Buffer.byteLength(text));
    return line.subarray(0, line.write(text));
  }
}

/** Most sessions' lines fit in the first buffer: a few KB. */
const LINE_BYTES = 64 * 1024;

/** How a session with no end is shown: still open at the end of the input. */
export const OPEN_END = "(open)";
/**
 * Shown instead when filters chose the events: the session's end may be among those left out (`--success no` drops a
 * USER_END that succeeded), so "(open)" would say what the run cannot know (T47 F4).
 */
export const UNSEEN_END = "(no end among the events selected)";

/**
 * A readable timeline: one header per session, then its commands and connections in time order. Built as one
 * string, line by line: as arrays of parts, items and lines joined, the text of the sessions written took 12
 * times its size in short-lived allocations (85 MB for 7 MB of text on the second tester's interleaved log).
 */
export function formatSession(s: Session, openEnd = OPEN_END): string {
  let head = `session ${s.ses}${s.node ? ` on ${s.node}` : ""}  user ${s.user ?? "?"}`;
  if (s.from) head += `  from ${fromText(s)}`;
  if (s.via) head += `  via ${s.via}`;
  if (s.terminal) head += `  tty ${terminalText(s)}`;
  head += `  ${s.start ?? "?"} .. ${s.end ?? openEnd}`;
  if (s.loginSuccess === false) head += "  LOGIN FAILED";
  // every line escaped on its own: a logged newline cannot forge a line of the timeline
  let text = escapeControls(head);
  const lines = commandLines(s);
  // commands alone, in time order already (the usual case): the sorted timeline is the commands as they are
  if ((s.nested?.length ?? 0) === 0 && s.connections.length === 0 && inTimeOrder(lines)) {
    for (const line of lines) text += `\n${line}`;
  } else {
    for (const item of timeline(s, lines)) text += `\n${item.text}`;
  }
  if (s.omitted) text += `\n  … ${s.omitted} more commands/connections not listed (capped to bound memory)`;
  return text;
}

/**
 * Where a session came from: the address, with the host's name when its records gave one besides, and the bytes of
 * either when they are not UTF-8 (`(bytes hostname=6CE9…)`, as a command's `(bytes a1=…)`).
 */
export function fromText(s: Session): string {
  const from = s.hostname === undefined ? `${s.from}` : `${s.from} (${s.hostname})`;
  if (s.fromRaw === undefined && s.hostnameRaw === undefined) return from;
  const bytes = [s.fromRaw === undefined ? "" : `from=${s.fromRaw}`, s.hostnameRaw === undefined ? "" : `hostname=${s.hostnameRaw}`];
  return `${from} (bytes ${bytes.filter((b) => b !== "").join(" ")})`;
}

/** A session's terminal: PAM's (`ssh`), with the login's own when that is another (`/dev/pts/1`). */
export function terminalText(s: Session): string {
  return s.loginTerminal === undefined ? `${s.terminal}` : `${s.terminal} (${s.loginTerminal})`;
}

function commandText(s: Session, c: SessionCommand): string {
  return `  ${c.time} ${c.via !== undefined ? `cmd  ${c.argv.join(" ")}  (via ${c.via})` : `exec ${partText(c)}`}${c.uid !== undefined && c.uid !== s.user ? `  (as ${c.uid})` : ""}${c.cwd ? `  (cwd ${c.cwd})` : ""}${c.success === false ? ` (failed${c.exit ? `: ${c.exit}` : ""})` : ""}${c.argvRaw === undefined ? "" : rawText(c.argvRaw)}`;
}

/**
 * An exec's command line; one written in parts says which part it is, and a later part shows only its own
 * arguments (from its first non-empty index: the earlier ones are its first parts').
 */
export function partText(c: SessionCommand): string {
  // an exec with neither EXECVE nor PATH in the log (execPath)
  if (c.argv.length === 0 && c.part === undefined) return "(program not in the log)";
  if (c.part === undefined) return c.argv.join(" ");
  if (c.part === 1) return `${c.argv.join(" ")}  (command line continued in its next part)`;
  const from = c.argv.findIndex((a) => a !== "");
  return `(part ${c.part}, from argument ${from}) ${c.argv.slice(from).join(" ")}`;
}

/** The exact bytes of arguments that are not UTF-8 (shown as U+FFFD): `  (bytes a1=C328…)`, as the JSON's argvRaw. */
function rawText(argvRaw: Record<string, string>): string {
  return `  (bytes ${Object.entries(argvRaw)
    .map(([index, hex]) => `a${index}=${hex}`)
    .join(" ")})`;
}

/**
 * A session's commands as lines of its timeline, escaped: those the tracker held as lines (commandsText) as they
 * are, the others formatted now.
 */
function commandLines(s: Session): string[] {
  const held = s instanceof OpenSession ? s[HELD] : undefined;
  if (held === undefined) return s.commands.map((c) => escapeControls(commandText(s, c)));
  return typeof held === "string" ? [heldCommandLine(s, held)] : held.map((h) => heldCommandLine(s, h));
}

function heldCommandLine(s: Session, held: string): string {
  return heldLine(held) ?? escapeControls(commandText(s, unpackCommand(held)));
}

/** Whether command lines are in time order: each line's time follows its two spaces, up to the next space. */
function inTimeOrder(lines: string[]): boolean {
  for (let i = 1; i < lines.length; i++) if (timeBefore(lines[i]!, lines[i - 1]!)) return false;
  return true;
}

/**
 * Whether line a's time is before line b's, as the times compare as strings: a time's characters (digits, `-`, `:`,
 * `T`, `.`, `Z`) all come after the space that ends it, so a shorter time that begins the other is before it.
 */
function timeBefore(a: string, b: string): boolean {
  for (let i = 2; ; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return x < y;
    if (x === 32 /* the space after both */) return false;
  }
}

/** A command line's time (see timeBefore). */
function timeOf(line: string): string {
  return line.slice(2, line.indexOf(" ", 2));
}

/** Commands, su/sudo and connections by time, escaped; of one time, in that order (a stable sort). */
function timeline(s: Session, lines: string[]): { time: string; text: string }[] {
  return [
    ...lines.map((line) => ({ time: timeOf(line), text: line })),
    ...(s.nested ?? []).map((n) => ({
      time: n.start,
      text: escapeControls(
        `  ${n.start} ${n.success === false ? "FAILED " : ""}session ${n.via} -> ${n.user ?? "?"}${n.end ? ` .. ${n.end}` : ""}`,
      ),
    })),
    ...s.connections.map((c) => ({ time: c.time, text: escapeControls(`  ${c.time} net  ${connectionText(c).slice(c.time.length + 1)}`) })),
  ].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
}
