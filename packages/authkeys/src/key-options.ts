/** authorized_keys options: checked in each key value and in the config's group keyOptions. */

export const DEFAULT_KEY_TYPES = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"];

// sshd(8) AUTHORIZED_KEYS FILE FORMAT; a line with any other option is rejected by sshd as a whole.
const FLAG_OPTIONS = new Set([
  "agent-forwarding",
  "cert-authority",
  "no-agent-forwarding",
  "no-port-forwarding",
  "no-pty",
  "no-user-rc",
  "no-x11-forwarding",
  "port-forwarding",
  "pty",
  "no-touch-required",
  "verify-required",
  "restrict",
  "user-rc",
  "x11-forwarding",
]);
const VALUE_OPTIONS = new Set(["command", "environment", "expiry-time", "from", "permitopen", "permitlisten", "principals", "tunnel"]);
/** Checks an options string as written in config ("from=\"10.0.0.0/8\",no-pty"); returns a problem or undefined. */
export function checkOptions(options: string): string | undefined {
  const split = splitOptions(`${options} ssh-ed25519 AAAA`);
  if (typeof split === "string") return split;
  return split.options === options ? undefined : "options must not contain spaces outside quotes";
}

/** Splits `opt1,opt2="x y" type blob comment` into options and the key part; a string is a problem. */
export function splitOptions(text: string): { options: string; rest: string } | string {
  const first = /^\S+/.exec(text)?.[0] ?? "";
  if (/^(ssh-|ecdsa-|sk-)/.test(first) && !first.includes("=") && !first.includes(",")) return { options: "", rest: text };
  let i = 0;
  while (true) {
    const name = /^[A-Za-z0-9-]+/.exec(text.slice(i))?.[0];
    if (!name) return "malformed key options";
    const lower = name.toLowerCase();
    i += name.length;
    if (text[i] === "=") {
      if (!VALUE_OPTIONS.has(lower)) return `unknown key option "${name}"`;
      if (text[i + 1] !== '"') return `option ${name} needs a quoted value`;
      i += 2;
      while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
      if (i >= text.length) return `unterminated quote in option ${name}`;
      i++;
    } else if (!FLAG_OPTIONS.has(lower)) {
      return `unknown key option "${name}"`;
    }
    if (text[i] === ",") {
      i++;
      continue;
    }
    if (text[i] === " " || text[i] === "\t") return { options: text.slice(0, i), rest: text.slice(i).trimStart() };
    return "malformed key options";
  }
}

/** One option as written: its lower-case name and its text ("from=\"10.0.0.0/8\""). */
interface KeyOption {
  name: string;
  text: string;
}

/** The options of a string splitOptions accepted, in order. */
function optionList(options: string): KeyOption[] {
  const list: KeyOption[] = [];
  let i = 0;
  while (i < options.length) {
    const start = i;
    while (i < options.length && options[i] !== "," && options[i] !== '"') i++;
    if (options[i] === '"') {
      i++;
      while (i < options.length && options[i] !== '"') i += options[i] === "\\" ? 2 : 1;
      i++;
    }
    const text = options.slice(start, i);
    list.push({ name: (/^[A-Za-z0-9-]+/.exec(text)?.[0] ?? "").toLowerCase(), text });
    i++;
  }
  return list;
}

/** Each flag that turns a capability back on, and the group options that turn it off. */
const ENABLERS: Record<string, readonly string[]> = {
  "agent-forwarding": ["no-agent-forwarding", "restrict"],
  "port-forwarding": ["no-port-forwarding", "restrict"],
  pty: ["no-pty", "restrict"],
  "user-rc": ["no-user-rc", "restrict"],
  "x11-forwarding": ["no-x11-forwarding", "restrict"],
  "no-touch-required": ["verify-required"],
};
/** sshd adds up these lists, so a user's own value would allow more than the group's. */
const WIDENING_LISTS = new Set(["permitopen", "permitlisten"]);
/** sshd refuses a line that has one of these twice ("multiple ... clauses"). */
const SINGLE = new Set(["command", "from", "principals", "tunnel"]);

/** Whether an options string (as splitOptions returned it) has this flag, e.g. cert-authority. */
export function hasOption(options: string, name: string): boolean {
  return options !== "" && optionList(options).some((o) => o.name === name);
}

export type MergedOptions = { ok: true; options: string; dropped: string[] } | { ok: false; reason: string };

/**
 * The options of one key of a group member: the group's, then the key's own minus every option that
 * would undo one of the group's. sshd reads options left to right and a later `port-forwarding`
 * (or `pty`, … even after `restrict`) wins, so putting the group's first is not enough, and a
 * `restrict` of ours would be undone the same way: the key's conflicting options are dropped
 * (the caller logs them). When both set a clause sshd accepts once (from, command, …) the key is
 * refused whole, as sshd itself would refuse the line; keeping either value could widen access.
 */
export function mergeGroupOptions(group: string, own: string): MergedOptions {
  if (!group) return { ok: true, options: own, dropped: [] };
  const groupNames = new Set(optionList(group).map((o) => o.name));
  const kept: string[] = [];
  const dropped: string[] = [];
  for (const option of own ? optionList(own) : []) {
    if (SINGLE.has(option.name) && groupNames.has(option.name)) {
      return { ok: false, reason: `its own ${option.name}= conflicts with the group's` };
    }
    const undoes = ENABLERS[option.name]?.some((name) => groupNames.has(name)) ?? false;
    if (undoes || (WIDENING_LISTS.has(option.name) && groupNames.has(option.name))) dropped.push(option.text);
    else kept.push(option.text);
  }
  return { ok: true, options: [group, ...kept].join(","), dropped };
}

/**
 * Options with every flag dropped that would turn back on what an earlier one turned off: what the
 * group merge leaves, applied to cached lines, which an older version wrote with the group's options
 * first and the key's own after them (`no-port-forwarding,port-forwarding`).
 */
export function withoutUndoing(options: string): string {
  if (!options) return options;
  const seen = new Set<string>();
  const kept: string[] = [];
  for (const option of optionList(options)) {
    if (!ENABLERS[option.name]?.some((name) => seen.has(name))) kept.push(option.text);
    seen.add(option.name);
  }
  return kept.join(",");
}
