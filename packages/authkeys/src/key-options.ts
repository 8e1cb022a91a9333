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
  const parsed = parseOptions(`${options} ssh-ed25519 AAAA`);
  if (typeof parsed === "string") return parsed;
  if (parsed.rest !== "ssh-ed25519 AAAA") return "options must not contain spaces outside quotes";
  return repeatedClause(parsed.options);
}

/**
 * Where sshd looks for the key after options it could not read (sshkey.c sshkey_advance_past_options):
 * past the first space or tab outside double quotes, `\"` skipped. undefined for an unterminated quote.
 */
export function pastOptions(text: string): string | undefined {
  let quoted = false;
  let i = 0;
  for (; i < text.length && (quoted || (text[i] !== " " && text[i] !== "\t")); i++) {
    if (text[i] === "\\" && text[i + 1] === '"') i++;
    else if (text[i] === '"') quoted = !quoted;
  }
  return i >= text.length && quoted ? undefined : text.slice(i).replace(/^[ \t]+/, "");
}

/**
 * The clauses sshd refuses a whole line for when they appear twice: OpenSSH auth-options.c
 * sshauthopt_parse fails with `multiple "command" clauses` (likewise "principals", "from").
 * Every other option may repeat there: a later flag or `tunnel=` wins, the earliest `expiry-time`
 * wins, the first `environment` of a name wins, `permitopen`/`permitlisten` add up.
 */
const ONCE_ONLY = ["command", "from", "principals"];

/** Why sshd would refuse these options for a repeated clause (a problem to report), or undefined. */
export function repeatedClause(options: readonly KeyOption[]): string | undefined {
  const twice = ONCE_ONLY.find((name) => options.filter((o) => o.name === name).length > 1);
  return twice === undefined ? undefined : `option ${twice}= given more than once (sshd refuses the line)`;
}

/** One option as sshd reads it: its lower-case name and, for name="…", the value with sshd's quoting undone. */
export interface KeyOption {
  name: string;
  value?: string;
}

/**
 * Splits `opt1,opt2="x y" type blob comment` into options and the key part; a string is a problem,
 * also for options sshd would refuse the line for (repeatedClause).
 * The options come back re-written from what was read (formatOptions), never as the user's raw text:
 * what sshd is given is exactly what every check here looked at.
 */
export function splitOptions(text: string): { options: string; rest: string } | string {
  const parsed = parseOptions(text);
  if (typeof parsed === "string") return parsed;
  return repeatedClause(parsed.options) ?? { options: formatOptions(parsed.options), rest: parsed.rest };
}

/**
 * Reads options the way sshd does (auth-options.c sshauthopt_parse, opt_dequote;
 * sshkey.c sshkey_advance_past_options): names case-insensitive, a value is `name="…"`, and inside
 * the quotes ONLY `\"` is an escape: a backslash before anything else, another backslash included,
 * is a literal backslash. So `"A=\\",x"` is one value, `A=\",x`, as sshd sees it. A comma followed by
 * the space before the key ends the options, and an empty option (`,no-pty`, `no-pty,,pty`) is skipped,
 * as in sshd; an unknown name or anything but a comma after an option is refused, as sshd refuses it.
 */
/**
 * An unknown option's name as it may be quoted in a warning: a long "name" is a key blob or a pasted private key
 * (a value with no type in front), never echoed whole — logs and audit reports are read by many.
 */
function optionName(name: string): string {
  return name.length <= 24 ? name : `${name.slice(0, 8)}…" (${name.length} characters: a key or key material, not an option name`;
}

export function parseOptions(text: string): { options: KeyOption[]; rest: string } | string {
  const first = /^\S+/.exec(text)?.[0] ?? "";
  if (/^(ssh-|ecdsa-|sk-)/.test(first) && !first.includes("=") && !first.includes(",")) return { options: [], rest: text };
  const options: KeyOption[] = [];
  let i = 0;
  while (true) {
    // sshd has no error for an empty option (a leading comma, `,,`): no option matches, and the loop goes
    // on to the comma after it (auth-options.c sshauthopt_parse). The real sshd accepts such a line.
    if (text[i] === ",") {
      i++;
      if (text[i] === " " || text[i] === "\t") return { options, rest: text.slice(i).replace(/^[ \t]+/, "") };
      continue;
    }
    const name = /^[A-Za-z0-9-]+/.exec(text.slice(i))?.[0];
    if (!name) return "malformed key options";
    const lower = name.toLowerCase();
    i += name.length;
    if (text[i] === "=") {
      if (!VALUE_OPTIONS.has(lower)) return `unknown key option "${optionName(name)}"`;
      if (text[i + 1] !== '"') return `option ${name} needs a quoted value`;
      i += 2;
      let value = "";
      while (i < text.length && text[i] !== '"') {
        if (text[i] === "\\" && text[i + 1] === '"') i++;
        value += text[i];
        i++;
      }
      if (i >= text.length) return `unterminated quote in option ${name}`;
      i++;
      options.push({ name: lower, value });
    } else if (FLAG_OPTIONS.has(lower)) {
      options.push({ name: lower });
    } else {
      return `unknown key option "${optionName(name)}"`;
    }
    // The comma after an option is read at the top of the loop. sshd's loop runs while the next character is
    // not a space or tab, and sshd hands it the rest of the line: so `no-pty, ssh-ed25519 …` ends the options
    // after the comma, and sshd accepts the key with no-pty (T72 N1). A comma at the very end of the text
    // leaves no name to read: refused, as sshd refuses it ("unexpected end-of-options").
    if (text[i] === ",") continue;
    if (text[i] === " " || text[i] === "\t") return { options, rest: text.slice(i).replace(/^[ \t]+/, "") };
    return "malformed key options";
  }
}

/**
 * Writes options back as sshd reads them: a `"` in a value becomes `\"`, every other character stays.
 * A value read by parseOptions never ends in a backslash (sshd would have read `\"` as an escape, not
 * the closing quote), so the closing quote written here is always read as the end of the value.
 */
export function formatOptions(options: readonly KeyOption[]): string {
  return options.map((o) => (o.value === undefined ? o.name : `${o.name}="${o.value.replaceAll('"', '\\"')}"`)).join(",");
}

/** The options of a string splitOptions returned (or a config's keyOptions), in order. */
function optionList(options: string): KeyOption[] {
  if (!options) return [];
  const parsed = parseOptions(`${options} ssh-ed25519 AAAA`);
  // Only strings this module wrote or checkOptions accepted get here; refuse to guess at anything else.
  if (typeof parsed === "string") throw new Error(`key options not checked before use: ${parsed}`);
  return parsed.options;
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
/**
 * A key may not set these when the group does: sshd refuses a line with two of ONCE_ONLY, and of two
 * `tunnel=` it uses the later one, the key's.
 */
const SINGLE = new Set([...ONCE_ONLY, "tunnel"]);

/** Whether an options string (as splitOptions returned it) has this flag, e.g. cert-authority. */
export function hasOption(options: string, name: string): boolean {
  return optionList(options).some((o) => o.name === name);
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
  const groupList = optionList(group);
  const groupNames = new Set(groupList.map((o) => o.name));
  const kept: KeyOption[] = [];
  const dropped: string[] = [];
  for (const option of optionList(own)) {
    if (SINGLE.has(option.name) && groupNames.has(option.name)) {
      return { ok: false, reason: `its own ${option.name}= conflicts with the group's` };
    }
    const undoes = ENABLERS[option.name]?.some((name) => groupNames.has(name)) ?? false;
    if (undoes || (WIDENING_LISTS.has(option.name) && groupNames.has(option.name))) dropped.push(formatOptions([option]));
    else kept.push(option);
  }
  return { ok: true, options: formatOptions([...groupList, ...kept]), dropped };
}
