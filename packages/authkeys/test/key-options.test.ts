import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkKeyValue, DEFAULT_KEY_TYPES } from "../src/index";
import { formatOptions, hasOption, type KeyOption, mergeGroupOptions, parseOptions, splitOptions } from "../src/key-options";

/**
 * A reference reading of how sshd (OpenSSH 9.x) splits an authorized_keys line, transcribed step by
 * step from auth2-pubkeyfile.c (auth_check_authkey_line), sshkey.c (sshkey_advance_past_options) and
 * auth-options.c (sshauthopt_parse, opt_flag, opt_match, opt_dequote). Only the tokenising: what each
 * value means (a valid CIDR, tun number, …) is sshd's to refuse, which only ever refuses a line.
 */
const SSHD_FLAGS: ReadonlyArray<readonly [string, boolean]> = [
  ["restrict", false],
  ["cert-authority", false],
  ["port-forwarding", true],
  ["agent-forwarding", true],
  ["x11-forwarding", true],
  ["touch-required", true],
  ["verify-required", true],
  ["pty", true],
  ["user-rc", true],
];
const SSHD_VALUES = ["command", "principals", "from", "expiry-time", "environment", "permitopen", "permitlisten", "tunnel"];

function sshdSplit(line: string): { options: KeyOption[]; rest: string } | "refused" {
  // sshkey_advance_past_options: `\"` skipped anywhere, any other `"` toggles quoting.
  let cp = 0;
  let quoted = false;
  for (; cp < line.length && (quoted || (line[cp] !== " " && line[cp] !== "\t")); cp++) {
    if (line[cp] === "\\" && line[cp + 1] === '"') cp++;
    else if (line[cp] === '"') quoted = !quoted;
  }
  if (cp >= line.length && quoted) return "refused";
  while (line[cp] === " " || line[cp] === "\t") cp++; // skip_space
  const rest = line.slice(cp);
  // sshauthopt_parse on the whole line; it stops at the first space or tab outside a value.
  const options: KeyOption[] = [];
  const lower = (from: number, to: number) => line.slice(from, to).toLowerCase();
  let o = 0;
  while (o < line.length && line[o] !== " " && line[o] !== "\t") {
    let matched = false;
    for (const [flag, negatable] of SSHD_FLAGS) {
      // opt_flag: an optional "no-", then a case-insensitive PREFIX match; what follows is checked below.
      const at = negatable && lower(o, o + 3) === "no-" ? o + 3 : o;
      if (lower(at, at + flag.length) === flag) {
        options.push({ name: lower(o, at + flag.length) });
        o = at + flag.length;
        matched = true;
        break;
      }
    }
    for (const term of matched ? [] : SSHD_VALUES) {
      // opt_match: the name, case-insensitive, then "="; opt_dequote: only \" is an escape.
      if (lower(o, o + term.length) !== term || line[o + term.length] !== "=") continue;
      o += term.length + 1;
      if (line[o] !== '"') return "refused";
      o++;
      let value = "";
      while (o < line.length && line[o] !== '"') {
        if (line[o] === "\\" && line[o + 1] === '"') o++;
        value += line[o];
        o++;
      }
      if (o >= line.length) return "refused";
      o++;
      options.push({ name: term, value });
      break;
    }
    if (o >= line.length || line[o] === " " || line[o] === "\t") break;
    if (line[o] !== ",") return "refused";
    o++;
    if (o >= line.length) return "refused";
  }
  return { options, rest };
}

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey";

describe("key options are read exactly as sshd reads them", () => {
  it('only \\" is an escape in a quoted value: \\\\" ends nothing, so the tester\'s line hides no cert-authority', () => {
    const line = `environment="A=\\\\",cert-authority,environment=",port-forwarding,command=" ssh-ed25519 CAKEY x" ssh-rsa AAAAB3weak`;
    const expected = {
      options: [
        { name: "environment", value: 'A=\\",cert-authority,environment=' },
        { name: "port-forwarding" },
        { name: "command", value: " ssh-ed25519 CAKEY x" },
      ],
      rest: "ssh-rsa AAAAB3weak",
    };
    expect(sshdSplit(line)).toEqual(expected);
    expect(parseOptions(line)).toEqual(expected);
    const split = splitOptions(line);
    expect(typeof split !== "string" && hasOption(split.options, "cert-authority")).toBe(false);
    expect(split).toMatchObject({ rest: "ssh-rsa AAAAB3weak" });
  });

  it.each([
    ['command="a\\b"', "a\\b"],
    ['command="a\\\\b"', "a\\\\b"],
    ['command="a\\"b"', 'a"b'],
    ['command="a\\\\\\"b"', 'a\\\\"b'],
    ['command="\\\\\\\\x"', "\\\\\\\\x"],
    ['command="\\n\\t"', "\\n\\t"],
  ])("%s holds the value %s", (option, value) => {
    const line = `${option} ${KEY}`;
    expect(parseOptions(line)).toEqual({ options: [{ name: "command", value }], rest: KEY });
    expect(sshdSplit(line)).toEqual(parseOptions(line));
  });

  it("refuses a value whose closing quote sshd reads as an escaped quote", () => {
    // `"a\"` never closes for sshd; the key text after it would be read as part of the value.
    expect(parseOptions(`command="a\\" ${KEY}`)).toBe("unterminated quote in option command");
    expect(sshdSplit(`command="a\\" ${KEY}`)).toBe("refused");
  });

  it("re-writes what it read, so sshd is never handed raw option text: names lower-case, quotes escaped", () => {
    expect(splitOptions(`No-Pty,Command="say \\"hi\\" \\\\o/" ${KEY}`)).toEqual({
      options: 'no-pty,command="say \\"hi\\" \\\\o/"',
      rest: KEY,
    });
  });

  it("a group merge sees the same options sshd will: the smuggled port-forwarding is dropped", () => {
    const line = `environment="A=\\\\",environment=",port-forwarding,agent-forwarding,pty,command=" ssh-ed25519 K x" ${KEY}`;
    const split = splitOptions(line);
    if (typeof split === "string") throw new Error(split);
    const merged = mergeGroupOptions("no-port-forwarding,no-agent-forwarding,no-pty", split.options);
    expect(merged).toEqual({
      ok: true,
      options: 'no-port-forwarding,no-agent-forwarding,no-pty,environment="A=\\\\",environment=",command=" ssh-ed25519 K x"',
      dropped: ["port-forwarding", "agent-forwarding", "pty"],
    });
    if (!merged.ok) return;
    const seen = sshdSplit(`${merged.options} ${KEY}`);
    expect(seen !== "refused" && seen.options.map((o) => o.name)).toEqual([
      "no-port-forwarding",
      "no-agent-forwarding",
      "no-pty",
      "environment",
      "command",
    ]);
  });

  it("a cert-authority line carries the group's options too: certificates it admits are bound by them", () => {
    const split = splitOptions(`cert-authority,port-forwarding,principals="ops" ${KEY} ca`);
    if (typeof split === "string") throw new Error(split);
    const merged = mergeGroupOptions('from="10.0.0.0/8",no-port-forwarding', split.options);
    expect(merged).toEqual({
      ok: true,
      options: 'from="10.0.0.0/8",no-port-forwarding,cert-authority,principals="ops"',
      dropped: ["port-forwarding"],
    });
  });

  it("checkKeyValue judges the key sshd would use (a 1024-bit RSA key), not the one hidden in an option value", () => {
    const dir = mkdtempSync(join(tmpdir(), "authkeys-options-"));
    try {
      const pub = (name: string, args: string[]) => {
        execFileSync("ssh-keygen", ["-q", ...args, "-N", "", "-f", join(dir, name)]);
        return readFileSync(join(dir, `${name}.pub`), "utf8").trim();
      };
      const ca = pub("ca", ["-t", "ed25519"]);
      const weak = pub("weak", ["-t", "rsa", "-b", "1024"]);
      const line = `environment="A=\\\\",cert-authority,environment=",command=" ${ca}" ${weak}`;
      expect(checkKeyValue(line, { types: DEFAULT_KEY_TYPES, minRsaBits: 2048 })).toMatchObject({
        ok: false,
        reason: "RSA key of 1024 bits (minimum 2048)",
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Option-like lines built from the characters that matter: quotes, backslashes, commas, blanks.
const valueText = fc.string({ unit: fc.constantFrom("a", "\\", '"', ",", " ", "\t", "=", "x"), maxLength: 12 });
const optionText = fc.oneof(
  fc.constantFrom("no-pty", "pty", "restrict", "cert-authority", "PORT-forwarding", "no-agent-forwarding", "ptyx", "no-restrict"),
  fc.tuple(fc.constantFrom("command", "Environment", "from", "permitopen", "bogus"), valueText).map(([n, v]) => `${n}="${v}"`),
  valueText,
);
const lineText = fc
  .tuple(fc.array(optionText, { minLength: 1, maxLength: 5 }), fc.constantFrom(" ", "\t", " \t ", ", "))
  .map(([options, blank]) => `${options.join(",")}${blank}${KEY} c`);

describe("property: wherever authkeys accepts options, sshd reads the same ones", () => {
  it("the same options and key part as sshd, and what authkeys prints reads back to the same", () => {
    let accepted = 0;
    fc.assert(
      fc.property(lineText, (line) => {
        const ours = parseOptions(line);
        if (typeof ours === "string") return;
        accepted++;
        expect(sshdSplit(line)).toEqual(ours);
        expect(sshdSplit(`${formatOptions(ours.options)} ${ours.rest}`)).toEqual(ours);
      }),
      { numRuns: 3000 },
    );
    // The property is not vacuous: plenty of the lines were accepted and compared.
    expect(accepted).toBeGreaterThan(300);
  });
});
