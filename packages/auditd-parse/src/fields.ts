import { ByteNames, packHead, packMid } from "./byte-names";
import { jsonString, wordsOf } from "./json";

/** How a field's value is interpreted, by field name. */
export enum Kind {
  User = 1,
  Group,
  Encoded,
  Arch,
  Syscall,
  Exit,
  Mode,
  Perm,
  Cap,
  Context,
  Saddr,
  Key,
  Session,
  Signal,
  /** SYSCALL a0–a3, read by the syscall (args.ts). */
  Arg,
  Result,
  NfFamily,
  FilterList,
  Promiscuous,
  Seccomp,
  Capability,
}

const KINDS = new Map<string, Kind>();
const define = (kind: Kind, names: string) => {
  for (const name of names.split(" ")) KINDS.set(name, kind);
};
define(Kind.User, "uid auid euid suid fsuid ouid obj_uid oauid iuid inode_uid old-auid new-auid sauid loginuid old_loginuid id");
define(Kind.Group, "gid egid sgid fsgid ogid obj_gid igid inode_gid new_gid old_gid");
define(
  Kind.Encoded,
  "acct cmd comm cwd data dir exe file name ocomm path root_dir vm watch new-disk old-disk new-chardev old-chardev new-fs old-fs new-net old-net new-rng old-rng device cgroup sw profile label peer_label",
);
define(Kind.Arch, "arch");
define(Kind.Syscall, "syscall");
define(Kind.Exit, "exit");
define(Kind.Mode, "mode");
define(Kind.Perm, "perm perm_mask");
define(
  Kind.Cap,
  "cap_fp cap_fi cap_pi cap_pp cap_pe cap_pa cap_pb fp fi old_pp old_pi old_pe old_pa new_pp new_pi new_pe new_pa pp pi pe pa",
);
define(Kind.Context, "subj obj scontext tcontext");
define(Kind.Saddr, "saddr");
define(Kind.Key, "key");
define(Kind.Session, "ses old-ses new-ses");
define(Kind.Signal, "sig");
define(Kind.Arg, "a0 a1 a2 a3");
define(Kind.Result, "res");
define(Kind.NfFamily, "family");
define(Kind.FilterList, "list");
define(Kind.Promiscuous, "prom old_prom");
define(Kind.Seccomp, "code");
define(Kind.Capability, "capability");

/** Summary slots whose JSON value is copied from the record that set it (see OpenEvent.spans). */
export enum Slot {
  Syscall = 0,
  Arch,
  Exit,
  Pid,
  Ppid,
  Auid,
  Uid,
  Ses,
  Comm,
  Exe,
  Cwd,
  Sockaddr,
  Count,
}

/**
 * Event summary slots filled from record fields (the first record that has one wins, SYSCALL first). Kernels
 * before 3.14 wrote LOGIN as `old auid=… new auid=1001 old ses=… new ses=7` (read as new-auid, new-ses): the login's
 * user and session, as ausearch takes them (its parse_login reads "new ses=" and falls back to "ses=").
 */
const SUMMARY = new Map<string, Slot>([
  ["pid", Slot.Pid],
  ["ppid", Slot.Ppid],
  ["auid", Slot.Auid],
  ["new-auid", Slot.Auid],
  ["uid", Slot.Uid],
  ["ses", Slot.Ses],
  ["new-ses", Slot.Ses],
  ["comm", Slot.Comm],
  ["exe", Slot.Exe],
  ["cwd", Slot.Cwd],
]);
/** Fields that say whether the event succeeded: `success` (of a syscall), `res`/`result` (user space). */
export enum Status {
  None = 0,
  Success,
  Result,
}

/** What the interpreter needs to know about a field name, looked up once per field. */
export interface FieldInfo {
  name: string;
  kind: Kind | undefined;
  /** The event summary slot this field fills, or -1. */
  slot: number;
  /** Written as it is, with no string made of it: no interpretation, no summary slot. */
  plain: boolean;
  status: Status;
  /** `"name":` as UTF-8, ready to append. */
  key: Uint8Array;
  /** `,"name":`, for every member but an object's first. */
  nextKey: Uint8Array;
  /**
   * key and nextKey as JsonBytes.words() writes them, made when first written (keyWordsOf): most of an
   * argument-heavy log's names (a0 … a599, a12[3]) are never written as keys, and two arrays each for
   * thousands of them were 1 MB of peak RSS.
   */
  keyWords: Int32Array | undefined;
  nextKeyWords: Int32Array | undefined;
  /** The name as UTF-8, and its first eight bytes packed as ByteNames packs them (for a quick compare). */
  bytes: Uint8Array;
  head: number;
  mid: number;
  /** bytes.length, or -1 when the name holds 0x1d (a name the body's scan could not read): see namedAt(). */
  scanLength: number;
  /** Remembered (see MAX_FIELD_NAMES): only then are `seen`/`repeats` kept across lookups of the name. */
  cached: boolean;
  /** The record (Interpreter's count) this name was last written in, and how often in it. */
  seen: number;
  repeats: number;
  /** For an ENRICHED name (UID, AUID, OGID …): the uid/gid field it names, else undefined. */
  names: FieldInfo | undefined;
  /** For a uid/gid field: the record (Interpreter's count) whose ENRICHED part names it, and that token. */
  namedIn: number;
  namedAt: number;
  /** The record (Interpreter's count) that has this name outside its msg='…' (see renameNested). */
  outsideIn: number;
  /** msg.<name>: this name inside a msg='…' whose record has it outside too (made when first needed). */
  inMsg: FieldInfo | undefined;
  /**
   * For a name `a…`: Number() of what follows the `a` (EXECVE's argument index: a12 → 12; NaN when not a number),
   * read once per name, not once per argument (a string sliced an argument on execs of 5–60 arguments).
   */
  argIndex: number;
}

const FIELD_INFO = new Map<string, FieldInfo>();
/**
 * Bound on remembered field names: corrupt input could invent endless ones, and arguments split into 1-byte
 * `aN[i]` chunks make thousands per event (each remembered name holds three small Buffers: 4096 of them are
 * ~3 MB of peak RSS fewer than 10,000 on such a log, issue 23). A name past it is read without caching. The
 * longest-argument log measured (execs of 600 arguments, a12[3] …) has ~3,500.
 */
export const MAX_FIELD_NAMES = 4096;

/** How many field names are remembered (for the test that holds the table to its bound). */
export function fieldNamesKept(): number {
  return FIELD_INFO.size;
}

export function fieldInfo(name: string): FieldInfo {
  let info = FIELD_INFO.get(name);
  if (info === undefined) {
    // msg.<name>: a msg='…' pair whose name the record repeats outside msg, read as <name> is (cmd= hex decoded)
    const kind = KINDS.get(name) ?? (name.startsWith("msg.") ? KINDS.get(name.slice(4)) : undefined);
    const slot = SUMMARY.get(name) ?? -1;
    const plain = kind === undefined && slot < 0;
    const status = name === "success" ? Status.Success : name === "res" || name === "result" ? Status.Result : Status.None;
    const bytes = Buffer.from(name);
    const head = packHead(bytes, 0, bytes.length);
    const mid = packMid(bytes, 0, bytes.length);
    const key = Buffer.from(`${jsonString(name)}:`);
    const nextKey = Buffer.from(`,${jsonString(name)}:`);
    info = {
      name,
      kind,
      slot,
      plain,
      status,
      key,
      nextKey,
      keyWords: undefined,
      nextKeyWords: undefined,
      bytes,
      head,
      mid,
      scanLength: bytes.includes(0x1d) || bytes.includes(0x20) || bytes.includes(0x3d) ? -1 : bytes.length,
      cached: FIELD_INFO.size < MAX_FIELD_NAMES,
      seen: -1,
      repeats: 0,
      names: undefined,
      namedIn: -1,
      namedAt: -1,
      outsideIn: -1,
      inMsg: undefined,
      argIndex: name.charCodeAt(0) === 97 ? Number(name.slice(1)) : Number.NaN,
    };
    const lower = name.toLowerCase();
    if (lower !== name) {
      const named = fieldInfo(lower);
      if (named.kind === Kind.User || named.kind === Kind.Group) info.names = named;
    }
    if (info.cached) FIELD_INFO.set(name, info);
  }
  return info;
}

/** `"name":` (`,"name":` after a comma) of the field, as JsonBytes.words() writes it. */
export function keyWordsOf(info: FieldInfo, comma: boolean): Int32Array {
  if (comma) {
    info.nextKeyWords ??= wordsOf(info.nextKey);
    return info.nextKeyWords;
  }
  info.keyWords ??= wordsOf(info.key);
  return info.keyWords;
}

/** The same, for a name given as bytes of the input line. */
export const fieldInfoAt = new ByteNames(fieldInfo);
