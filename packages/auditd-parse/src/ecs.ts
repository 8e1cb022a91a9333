import { isIP } from "node:net";
import { decodeHexString } from "./decode";
import type { EcsNormalization } from "./ecs-types";
import type { AuditEvent, FieldValue, OutputRecord } from "./event";
import { RECORD_TYPE_NORMALIZATIONS, SYSCALL_NORMALIZATIONS } from "./tables/ecs-normalizations";
import { lostBytes } from "./values";

/**
 * Elastic Common Schema documents, named as Auditbeat's auditd module names them (beats
 * auditbeat/module/auditd/audit_linux.go, buildMetricbeatEvent, over go-libaudit's aucoalesce): the same
 * event.action / event.category / event.type from go-libaudit's normalization table, user.* (with Auditbeat's
 * user.audit.*, user.saved.*, user.filesystem.*), process.*, file.*, source / destination, network.direction,
 * and the untranslated record data under auditd.*, so dashboards and detection rules written for Auditbeat
 * read these documents too. Where Auditbeat departs from ECS we follow ECS and say so beside the code.
 * test/ecs.test.ts checks every field against the ECS definitions in @elastic/ecs and the categorisation
 * against go-libaudit's own expected outputs.
 */
export const ECS_VERSION = "9.4.0";

export type EcsDocument = Record<string, unknown>;

/** An id or a name (go-libaudit's ECSEntityData.set: a number is an id, anything else a name). */
interface Entity {
  id?: string;
  name?: string;
}

// an id auditd could not know ("?" in user-space records) is no id either
const UNSET = new Set(["", "unset", "4294967295", "-1", "?"]);
// Auditbeat's addUser: where each id of the acting process goes under user.*
const ID_FIELDS: Readonly<Record<string, string>> = {
  uid: "",
  gid: "group",
  euid: "effective",
  egid: "effective.group",
  suid: "saved",
  sgid: "saved.group",
  fsuid: "filesystem",
  fsgid: "filesystem.group",
  auid: "audit",
};
const PROCESS_FIELDS = new Set(["pid", "ppid", "comm", "exe", "cwd", "proctitle"]);

export interface EcsOptions {
  /** host.name when the log names no node (`node=`); omitted when neither is known. */
  hostName?: string;
}

export function toEcs(event: AuditEvent, options: EcsOptions = {}): EcsDocument {
  const records = event.records;
  const primary = records.find((r) => r.type === "SYSCALL") ?? records[0];
  // go-libaudit's normalizeCompound: a first record that is not SYSCALL names the event's type
  const messageType = records[0]?.type ?? event.types[0] ?? "UNKNOWN";
  const data: Record<string, string> = {};
  const ids: Record<string, string> = {};
  const names: Record<string, string> = {};
  const selinux: Record<string, string> = {};
  if (primary) collectPrimary(primary, data, ids, names, selinux);
  const pathRecords: OutputRecord[] = [];
  for (const record of records) {
    if (record === primary) continue;
    if (record.type === "PATH") pathRecords.push(record);
    else if (record.type === "EXECVE" || record.type === "SOCKADDR" || record.type === "PROCTITLE" || record.type === "EOE") continue;
    else for (const [k, v] of Object.entries(plainFields(record))) if (!(k in data)) data[k] = v;
  }
  if (event.argc !== undefined) data.argc = String(event.argc);
  const summaryData = summaryValues(records, data);
  const result = event.success === true ? "success" : event.success === false ? "fail" : "unknown";

  const syscallNorm = event.syscall === undefined ? undefined : (SYSCALL_NORMALIZATIONS[event.syscall] ?? SYSCALL_NORMALIZATIONS["*"]);
  const norm = messageType === "SYSCALL" ? syscallNorm : recordNorm(messageType, data);
  const category = [...(norm?.category ?? [])];
  const type = [...(norm?.type ?? [])];
  if (norm && syscallNorm && syscallNorm.index !== norm.index) {
    category.push(...syscallNorm.category);
    type.push(...syscallNorm.type);
  }

  const lookup = (key: string): string | undefined => summaryData[key] ?? ids[key];
  const first = (keys: readonly string[] | undefined): string | undefined => {
    for (const key of keys ?? []) {
      const value = lookup(key);
      if (value !== undefined) return value;
    }
    return undefined;
  };
  // go-libaudit's setHowDefaults: the executable, or comm for an interpreter running a script
  const exe = event.exe ?? event.comm;
  const interpreted = /^\/usr\/bin\/(python|sh|bash|perl)/.test(exe ?? "");
  const summary = {
    actor: { primary: ids.auid, secondary: ids.uid } as { primary?: string; secondary?: string },
    object: {} as { type?: string; primary?: string; secondary?: string },
    how: (interpreted ? event.comm : exe) as string | undefined,
  };
  if (norm) {
    summary.actor.primary = first(norm.subjectPrimary) ?? summary.actor.primary;
    summary.actor.secondary = first(norm.subjectSecondary) ?? summary.actor.secondary;
    if (norm.objectWhat) summary.object.type = norm.objectWhat;
    summary.object.primary = first(norm.objectPrimary);
    summary.object.secondary = first(norm.objectSecondary);
    summary.how = first(norm.how) ?? summary.how;
  }

  // go-libaudit's addProcess: the process fields leave the data after the normalization has read them
  for (const k of PROCESS_FIELDS) delete data[k];
  summary.actor.primary = unsetName(summary.actor.primary);
  summary.actor.secondary = unsetName(summary.actor.secondary);

  const doc: EcsDocument = {};
  put(doc, "@timestamp", event.time ?? undefined);
  put(doc, "ecs.version", ECS_VERSION);
  put(doc, "event.kind", norm?.kind || "event");
  put(doc, "event.module", "auditd");
  put(doc, "event.category", category.length ? category : undefined);
  put(doc, "event.type", type.length ? type : undefined);
  put(doc, "event.action", norm?.action || undefined);
  put(doc, "event.outcome", result === "fail" ? "failure" : result);
  put(doc, "event.sequence", event.serial ?? undefined);
  put(doc, "host.name", event.node ?? options.hostName);

  const related = new Set<string>();
  for (const [field, where] of Object.entries(ID_FIELDS)) {
    const prefix = where ? `user.${where}` : "user";
    const id = ids[field];
    if (id !== undefined && !UNSET.has(id)) put(doc, `${prefix}.id`, id);
    const name = names[field];
    if (name !== undefined) {
      put(doc, `${prefix}.name`, name);
      if (!where.includes("group")) related.add(name);
    }
  }
  if (Object.keys(selinux).length) put(doc, "user.selinux", selinux);
  for (const mapping of norm?.mappings ?? []) {
    const value =
      mapping.from === "subject.primary"
        ? summary.actor.primary
        : mapping.from === "subject.secondary"
          ? summary.actor.secondary
          : mapping.from === "object.primary"
            ? summary.object.primary
            : mapping.from === "object.secondary"
              ? summary.object.secondary
              : undefined;
    const entity = entityOf(value, names, ids);
    // Auditbeat's setECSEntity: the mapped entity replaces what addUser put there; an unset one removes it
    if (value !== undefined && UNSET.has(value)) {
      removeEntity(doc, mapping.to);
    } else if (entity.id !== undefined || entity.name !== undefined) {
      removeEntity(doc, mapping.to);
      put(doc, `${mapping.to}.id`, entity.id);
      put(doc, `${mapping.to}.name`, entity.name);
      if (entity.name && mapping.to !== "group") related.add(entity.name);
    }
  }
  // Auditbeat drops user.effective.* when it repeats user.*
  const user = doc.user as Record<string, unknown> | undefined;
  const effective = user?.effective as Record<string, unknown> | undefined;
  if (
    user &&
    effective &&
    ((effective.id !== undefined && effective.id === user.id) || (effective.name !== undefined && effective.name === user.name))
  ) {
    delete user.effective;
  }
  if (related.size) put(doc, "related.user", [...related]);

  putProcess(doc, event);
  const file =
    norm && (norm.objectWhat === "file" || norm.objectWhat === "filesystem")
      ? fileObject(pathRecords, norm.objectPathIndex ?? 0)
      : undefined;
  if (file) {
    for (const [k, v] of Object.entries(file.fields)) put(doc, `file.${k}`, v);
    summary.object.primary = file.fields.path ?? summary.object.primary;
    if (file.objectType) summary.object.type = file.objectType;
  }
  putNetwork(doc, event, data, norm, summary);
  // go-libaudit's auditRuleKeyNew: a key logged as key="key=net" (older auditctl) is the tag "net"
  put(doc, "tags", event.keys?.length ? event.keys.map((k) => (k.includes("=") ? k.slice(k.indexOf("=") + 1) : k)) : undefined);

  put(doc, "auditd.message_type", messageType.toLowerCase());
  put(doc, "auditd.sequence", event.serial ?? undefined);
  put(doc, "auditd.result", result);
  if (event.ses !== undefined && !UNSET.has(event.ses)) put(doc, "auditd.session", event.ses);
  put(doc, "auditd.summary.actor.primary", summary.actor.primary);
  put(doc, "auditd.summary.actor.secondary", summary.actor.secondary);
  put(doc, "auditd.summary.object.type", summary.object.type);
  put(doc, "auditd.summary.object.primary", summary.object.primary);
  put(doc, "auditd.summary.object.secondary", summary.object.secondary);
  put(doc, "auditd.summary.how", summary.how);
  if (pathRecords.length) put(doc, "auditd.paths", pathRecords.map(pathFields));
  if (Object.keys(data).length) put(doc, "auditd.data", data);
  // the exact bytes where text could not carry them (not UTF-8): as auditd-parse's own events keep them
  if (event.argvRaw) put(doc, "auditd.argv_raw", event.argvRaw);
  if (event.proctitleRaw) put(doc, "auditd.proctitle_raw", event.proctitleRaw);
  if (event.unparsed?.length) put(doc, "auditd.unparsed", event.unparsed);
  if (event.unparsedRaw?.length) put(doc, "auditd.unparsed_raw", event.unparsedRaw);
  return doc;
}

/**
 * The values go-libaudit's summary reads: as logged where we translated a number (sig=11, not SIGSEGV; id=1000,
 * not its user name), and without "?" (auditd's "no value", which go-libaudit's parser drops).
 */
function summaryValues(records: readonly OutputRecord[], data: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) if (v !== "?") out[k] = v;
  for (const record of records) {
    for (const [k, raw] of Object.entries(record.raw ?? {})) if (k in out && /^\d+$/.test(raw) && !hexOf(raw, out[k]!)) out[k] = raw;
  }
  return out;
}

/**
 * Whether `raw` is the hex the kernel wrote `text` as: a hex-encoded value can be all digits (`cmd=76692061` is
 * "vi a"), and then it is text to keep decoded, not a number to keep raw as the ids are (T22 #4).
 */
function hexOf(raw: string, text: string): boolean {
  return decodeHexString(raw) === text;
}

/** go-libaudit prints an unset id (4294967295, -1) as "unset". */
function unsetName(value: string | undefined): string | undefined {
  return value !== undefined && value !== "" && UNSET.has(value) ? "unset" : value;
}

function removeEntity(doc: EcsDocument, path: string): void {
  const parts = path.split(".");
  let node = doc as Record<string, unknown> | undefined;
  for (const part of parts) node = node?.[part] as Record<string, unknown> | undefined;
  if (node) {
    delete node.id;
    delete node.name;
  }
}

function recordNorm(type: string, data: Record<string, string>): EcsNormalization | undefined {
  const norms = RECORD_TYPE_NORMALIZATIONS[type];
  if (!norms?.length) return undefined;
  if (norms.length === 1) return norms[0];
  // go-libaudit: the last entry whose has_fields are all present
  let chosen: EcsNormalization | undefined;
  for (const n of norms) if ((n.hasFields ?? []).every((f) => f in data)) chosen = n;
  return chosen;
}

/** The record's fields as strings: logged values where the interpretation is an object or absent. */
function plainFields(record: OutputRecord): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(record.fields)) {
    const text = plain(v, record.raw?.[k]);
    if (text !== undefined) out[k] = text;
  }
  return out;
}

/**
 * A PATH record as auditd.paths[] has it, plus `name_raw`: the hex of a name that is not UTF-8 (its text holds
 * U+FFFD), as auditd-parse's own events keep it in raw.name, so ECS loses no byte either.
 */
function pathFields(record: OutputRecord): Record<string, string> {
  const out = plainFields(record);
  const raw = record.raw?.name;
  const lost = out.name === undefined || raw === undefined ? undefined : lostBytes(out.name, raw);
  if (lost !== undefined) out.name_raw = lost;
  return out;
}

function plain(value: FieldValue, raw: string | undefined): string | undefined {
  if (typeof value === "string") return value;
  if (value === null) return undefined;
  return raw;
}

function collectPrimary(
  record: OutputRecord,
  data: Record<string, string>,
  ids: Record<string, string>,
  names: Record<string, string>,
  selinux: Record<string, string>,
): void {
  for (const [k, v] of Object.entries(record.fields)) {
    const raw = record.raw?.[k];
    if (k.endsWith("uid") || k.endsWith("gid")) {
      const id = raw ?? (typeof v === "string" ? v : undefined);
      if (id === undefined) continue;
      if (k in ID_FIELDS) {
        ids[k] = id;
        // a translated id: the interpreter put the name in the field and kept the number in raw
        if (raw !== undefined && typeof v === "string" && v !== raw && v !== "unset") names[k] = v;
      } else {
        data[k] = typeof v === "string" ? v : id;
      }
      continue;
    }
    // an SELinux subject context (Auditbeat's user.selinux); an AppArmor label stays in the data
    if (k === "subj" && v !== null && typeof v === "object" && "role" in v) {
      for (const [part, text] of Object.entries(v)) if (typeof text === "string") selinux[part === "type" ? "domain" : part] = text;
      continue;
    }
    if (k === "ses" || k === "success" || k === "res" || k === "key") continue;
    const text = plain(v, raw);
    if (text !== undefined) data[k] = text;
  }
}

function entityOf(value: string | undefined, names: Record<string, string>, ids: Record<string, string>): Entity {
  if (value === undefined) return {};
  if (UNSET.has(value)) return {};
  if (!/^\d+$/.test(value)) return { name: value };
  // the name the event's own translation gave this number, when one of its ids carries it
  const field = Object.keys(ids).find((k) => ids[k] === value && names[k] !== undefined && !k.endsWith("gid"));
  return field ? { id: value, name: names[field]! } : { id: value };
}

function putProcess(doc: EcsDocument, event: AuditEvent): void {
  const pid = toInt(event.pid);
  const ppid = toInt(event.ppid);
  put(doc, "process.pid", pid);
  put(doc, "process.parent.pid", ppid);
  put(doc, "process.name", event.comm);
  put(doc, "process.executable", event.exe);
  put(doc, "process.working_directory", event.cwd);
  if (event.proctitle?.length) put(doc, "process.title", event.proctitle.join(" "));
  if (event.argv?.length) put(doc, "process.args", event.argv);
  // the count the kernel logged: an argv cut at auditd-parse's bound still says how many the process had
  const argc = event.argc ?? event.argv?.length;
  if (argc) put(doc, "process.args_count", argc);
}

interface FileObject {
  fields: Record<string, string>;
  objectType?: string;
}

// go-libaudit's setFileObject: the PATH record at the table's index, skipping PARENT and UNKNOWN entries
function fileObject(paths: OutputRecord[], index: number): FileObject | undefined {
  if (paths.length === 0) return undefined;
  const from = paths.length > index ? index : 0;
  const path = paths.slice(from).find((p) => p.fields.nametype !== "PARENT" && p.fields.nametype !== "UNKNOWN") ?? paths[from]!;
  const fields: Record<string, string> = {};
  const text = (k: string) => plain(path.fields[k] ?? null, path.raw?.[k]);
  const logged = (k: string) => path.raw?.[k] ?? text(k);
  const translated = (k: string) =>
    path.raw?.[k] !== undefined && typeof path.fields[k] === "string" ? (path.fields[k] as string) : undefined;
  const name = text("name");
  if (name !== undefined) fields.path = name;
  const inode = text("inode");
  if (inode !== undefined) fields.inode = inode;
  // ECS file.device is the device holding the file: `dev` (Auditbeat puts rdev, the device a special file is)
  const dev = text("dev");
  if (dev !== undefined) fields.device = dev;
  let objectType: string | undefined;
  const mode = logged("mode");
  if (mode !== undefined && /^[0-7]+$/.test(mode)) {
    const bits = Number.parseInt(mode, 8);
    fields.mode = (bits & 0o7777).toString(8).padStart(4, "0");
    objectType = FILE_TYPES[(bits >> 12) & 0xf];
  }
  for (const [field, id, named] of [
    ["ouid", "uid", "owner"],
    ["ogid", "gid", "group"],
  ] as const) {
    const value = logged(field);
    if (value !== undefined) fields[id] = value;
    const label = translated(field);
    if (label !== undefined && label !== value) fields[named] = label;
  }
  return { fields, ...(objectType ? { objectType } : {}) };
}

// S_IFMT of st_mode (its top four bits, shifted down: 8 regular, 4 directory …), named as go-libaudit names them
const FILE_TYPES: Readonly<Record<number, string>> = {
  8: "file",
  4: "directory",
  2: "character-device",
  6: "block-device",
  1: "named-pipe",
  10: "symlink",
  12: "socket",
};

function putNetwork(
  doc: EcsDocument,
  event: AuditEvent,
  data: Record<string, string>,
  norm: EcsNormalization | undefined,
  summary: { object: { type?: string; primary?: string; secondary?: string } },
): void {
  const address = event.sockaddr;
  if (address && (address.family === "inet" || address.family === "inet6")) {
    // go-libaudit's addSockaddrRecord: which side the socket address is depends on the syscall
    const incoming = ["recvfrom", "recvmsg", "accept", "accept4"].includes(event.syscall ?? "");
    const outgoing = ["connect", "sendto", "sendmsg"].includes(event.syscall ?? "");
    if (norm?.objectWhat === "socket") {
      summary.object.primary = address.address;
      summary.object.secondary = String(address.port);
    }
    if (incoming || outgoing) {
      const side = incoming ? "source" : "destination";
      put(doc, `${side}.address`, address.address);
      put(doc, `${side}.ip`, address.address);
      put(doc, `${side}.port`, address.port);
      // ECS network.direction takes ingress/egress for a host's own traffic (go-libaudit says incoming/outgoing)
      put(doc, "network.direction", incoming ? "ingress" : "egress");
    }
  } else if (address && address.family === "unix" && norm?.objectWhat === "socket") {
    summary.object.primary = address.path;
  }
  if (!address && norm?.sourceIp?.length) {
    const key = norm.sourceIp.find((k) => data[k] !== undefined);
    const value = key === undefined ? undefined : data[key];
    if (value !== undefined) {
      put(doc, "source.address", value);
      // ECS source.ip is an ip: a host name or "?" stays in source.address alone
      if (isIP(value)) put(doc, "source.ip", value);
      put(doc, "network.direction", "ingress");
    }
  }
}

function toInt(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

/** Sets a dotted path, creating objects on the way; undefined leaves the document as it is. */
function put(doc: EcsDocument, path: string, value: unknown): void {
  if (value === undefined) return;
  const parts = path === "@timestamp" ? [path] : path.split(".");
  let node: Record<string, unknown> = doc;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (next === undefined || next === null || typeof next !== "object" || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

/** What an alert needs of the Sigma rule that matched (see sigma/rules.ts). */
export interface EcsRule {
  id: string;
  title: string;
  level: string;
  rank: number;
  tags: readonly string[];
  attack: readonly string[];
  author: string | undefined;
}

/**
 * A detect alert as an ECS document: the matching event's document with event.kind "alert", the rule under
 * rule.* and its ATT&CK techniques under threat.*, so a SIEM lists it with its other alerts.
 */
export function ecsAlert(event: AuditEvent, rule: EcsRule): EcsDocument {
  // host.name from the event's node= only, as for ECS events: a copied log's alert must not carry the analyst's host
  const doc = toEcs(event);
  put(doc, "event.kind", "alert");
  // the level's rank: informational 0 … critical 4 (Sigma's order)
  put(doc, "event.severity", rule.rank);
  put(doc, "rule.id", rule.id);
  put(doc, "rule.name", rule.title);
  put(doc, "rule.ruleset", "sigma");
  if (rule.author !== undefined) put(doc, "rule.author", [rule.author]);
  put(doc, "labels.sigma_level", rule.level);
  const tags = [...((doc.tags as string[] | undefined) ?? []), ...rule.tags];
  if (tags.length) put(doc, "tags", [...new Set(tags)]);
  if (rule.attack.length) {
    put(doc, "threat.framework", "MITRE ATT&CK");
    // ECS keeps a sub-technique (T1059.004) apart from its technique (T1059)
    put(doc, "threat.technique.id", [...new Set(rule.attack.map((t) => t.split(".")[0]!))]);
    const subs = rule.attack.filter((t) => t.includes("."));
    if (subs.length) put(doc, "threat.technique.subtechnique.id", subs);
  }
  return doc;
}
