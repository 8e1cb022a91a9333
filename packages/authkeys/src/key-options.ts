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
