import { describe, expect, it } from "vitest";
import { checkKeyValue, checkOptions, DEFAULT_KEY_TYPES, fingerprintOf, formatKeyLine } from "../src/index";
import { readPublicKeyBlob } from "../src/public-key";

// Key validation edges that mutation testing (scripts/mutation.mjs authkeys-keys) showed no test pinned down.
// Blobs are built by hand in the wire format (uint32 length + bytes per field), so each case differs from a
// valid key by exactly one thing.

const field = (data: Buffer | string) => {
  const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : data;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
};
const blob = (...fields: Array<Buffer | string>) => Buffer.concat(fields.map(field));
const line = (type: string, b: Buffer, comment = "") => `${type} ${b.toString("base64")}${comment ? ` ${comment}` : ""}`;
const ed25519 = blob("ssh-ed25519", Buffer.alloc(32, 7));
const point = (bytes: number, first = 4) => Buffer.concat([Buffer.from([first]), Buffer.alloc(2 * bytes, 1)]);
/** An RSA modulus of exactly `bits` bits, as an mpint (a leading 0x00 when the top bit is set). */
const modulus = (bits: number) => {
  const bytes = Buffer.alloc(Math.ceil(bits / 8), 0xff);
  bytes[0] = 0xff >> (8 * bytes.length - bits);
  return (bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
};
const policy = { types: [...DEFAULT_KEY_TYPES, "ssh-dss"], minRsaBits: 2048 };

describe("readPublicKeyBlob", () => {
  it("reads each supported type, and only a blob that is exactly that type", () => {
    expect(readPublicKeyBlob("ssh-ed25519", ed25519)).toEqual({ bits: undefined });
    expect(readPublicKeyBlob("ssh-ed25519", blob("ssh-ed25519", Buffer.alloc(31)))).toBe("malformed");
    expect(readPublicKeyBlob("ssh-ed25519", blob("ssh-rsa", Buffer.alloc(32)))).toBe("malformed");
    expect(readPublicKeyBlob("ssh-ed25519", Buffer.concat([ed25519, Buffer.from([0])]))).toBe("malformed");
    expect(readPublicKeyBlob("ssh-ed25519", ed25519.subarray(0, ed25519.length - 1))).toBe("malformed");
    expect(readPublicKeyBlob("ssh-ed25519", Buffer.from([0, 0, 0]))).toBe("malformed");
    expect(readPublicKeyBlob("ssh-dss", blob("ssh-dss", "p", "q", "g", "y"))).toEqual({ bits: undefined });
    expect(readPublicKeyBlob("ssh-dss", blob("ssh-dss", "p", "q", "g"))).toBe("malformed");
    // a last field may be empty: its length prefix then ends the blob exactly
    expect(readPublicKeyBlob("ssh-dss", blob("ssh-dss", "p", "q", "g", ""))).toEqual({ bits: undefined });
    expect(readPublicKeyBlob("sk-ssh-ed25519@openssh.com", ed25519)).toBe("unsupported");
    expect(readPublicKeyBlob("ssh-ed25519-cert-v01@openssh.com", ed25519)).toBe("unsupported");
  });

  it("ECDSA: the curve named inside must match, the point is uncompressed and of the curve's size", () => {
    for (const [curve, size] of [
      ["nistp256", 32],
      ["nistp384", 48],
      ["nistp521", 66],
    ] as const) {
      const type = `ecdsa-sha2-${curve}`;
      expect(readPublicKeyBlob(type, blob(type, curve, point(size))), type).toEqual({ bits: undefined });
      expect(readPublicKeyBlob(type, blob(type, curve, point(size, 2))), `${type} compressed`).toBe("malformed");
      expect(readPublicKeyBlob(type, blob(type, curve, point(size - 1))), `${type} short`).toBe("malformed");
      expect(readPublicKeyBlob(type, blob(type, "nistp999", point(size))), `${type} curve`).toBe("malformed");
      expect(readPublicKeyBlob(type, blob(type, curve)), `${type} no point`).toBe("malformed");
    }
  });

  it("RSA: bits of the modulus, leading zero bytes aside; both fields needed", () => {
    for (const bits of [1, 8, 9, 2047, 2048, 4096]) {
      expect(readPublicKeyBlob("ssh-rsa", blob("ssh-rsa", Buffer.from([1, 0, 1]), modulus(bits))), `${bits}`).toEqual({ bits });
    }
    expect(readPublicKeyBlob("ssh-rsa", blob("ssh-rsa", Buffer.from([1, 0, 1]), Buffer.from([0, 0, 0, 0x01, 0xff])))).toEqual({ bits: 9 });
    expect(readPublicKeyBlob("ssh-rsa", blob("ssh-rsa", Buffer.from([1, 0, 1]), Buffer.alloc(3)))).toEqual({ bits: 0 });
    expect(readPublicKeyBlob("ssh-rsa", blob("ssh-rsa", Buffer.from([1, 0, 1])))).toBe("malformed");
  });
});

describe("checkKeyValue", () => {
  const e = Buffer.from([1, 0, 1]);

  it("the RSA minimum is inclusive: 2048 bits pass, 2047 do not", () => {
    expect(checkKeyValue(line("ssh-rsa", blob("ssh-rsa", e, modulus(2048))), policy)).toMatchObject({ ok: true, key: { bits: 2048 } });
    expect(checkKeyValue(line("ssh-rsa", blob("ssh-rsa", e, modulus(2047))), policy)).toMatchObject({
      ok: false,
      reason: "RSA key of 2047 bits (minimum 2048)",
    });
  });

  it("accepts each default key type (ssh-dss is not among them)", () => {
    const valid: Record<string, Buffer> = {
      "ssh-ed25519": ed25519,
      "ecdsa-sha2-nistp256": blob("ecdsa-sha2-nistp256", "nistp256", point(32)),
      "ecdsa-sha2-nistp384": blob("ecdsa-sha2-nistp384", "nistp384", point(48)),
      "ecdsa-sha2-nistp521": blob("ecdsa-sha2-nistp521", "nistp521", point(66)),
      "ssh-rsa": blob("ssh-rsa", e, modulus(3072)),
    };
    const defaults = { types: DEFAULT_KEY_TYPES, minRsaBits: 2048 };
    for (const [type, b] of Object.entries(valid)) expect(checkKeyValue(line(type, b), defaults), type).toMatchObject({ ok: true });
    expect(checkKeyValue(line("ssh-dss", blob("ssh-dss", "p", "q", "g", "y")), defaults)).toMatchObject({ ok: false });
  });

  it("the whole line is one key: nothing before the type, nothing after the blob but a comment", () => {
    const key = line("ssh-ed25519", ed25519);
    expect(checkKeyValue(`ssh-ed25519 not*base64 ${key}`, policy)).toMatchObject({ ok: false, reason: "not an OpenSSH public key line" });
    expect(checkKeyValue(`${key}!!`, policy)).toMatchObject({ ok: false, reason: "not an OpenSSH public key line" });
  });

  it("names each problem, and the fingerprint where there is a blob", () => {
    expect(checkKeyValue("ssh-ed25519", policy)).toEqual({ ok: false, reason: "not an OpenSSH public key line", fingerprint: undefined });
    expect(checkKeyValue(`${line("ssh-ed25519", ed25519)}\r`, policy)).toMatchObject({ reason: "contains a line break or NUL" });
    expect(checkKeyValue(`${line("ssh-ed25519", ed25519)}\0`, policy)).toMatchObject({ reason: "contains a line break or NUL" });
    const sk = checkKeyValue(line("sk-ssh-ed25519@openssh.com", ed25519), policy);
    expect(sk).toMatchObject({ ok: false, reason: "unparsable sk-ssh-ed25519@openssh.com key" });
    expect(!sk.ok && sk.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(checkKeyValue(line("ssh-ed25519", ed25519), { ...policy, types: ["ssh-rsa"] })).toMatchObject({
      reason: "key type ssh-ed25519 is not allowed",
    });
  });

  it("keeps the line as sshd reads it: surrounding spaces trimmed, comment kept without control characters", () => {
    const verdict = checkKeyValue(`  ${line("ssh-ed25519", ed25519)}\tmy key\x7f\x9f  `, policy);
    expect(verdict).toMatchObject({ ok: true, key: { options: "", type: "ssh-ed25519", comment: "my key" } });
    expect(verdict.ok && formatKeyLine(verdict.key)).toBe(`${line("ssh-ed25519", ed25519)} my key`);
    const bare = checkKeyValue(line("ssh-ed25519", ed25519), policy);
    expect(bare.ok && formatKeyLine(bare.key)).toBe(line("ssh-ed25519", ed25519));
    expect(bare.ok && formatKeyLine(bare.key, "restrict")).toBe(`restrict ${line("ssh-ed25519", ed25519)}`);
  });
});

describe("key options", () => {
  const key = line("ssh-ed25519", ed25519);
  const optionsOf = (text: string) => {
    const verdict = checkKeyValue(`${text} ${key}`, policy);
    return verdict.ok ? verdict.key.options : verdict.reason;
  };

  it("accepts every option sshd knows, in any case, flags bare and values quoted", () => {
    const flags = [
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
    ];
    for (const flag of flags) expect(optionsOf(flag), flag).toBe(flag);
    const values = ["command", "environment", "expiry-time", "from", "permitopen", "permitlisten", "principals", "tunnel"];
    for (const name of values) expect(optionsOf(`${name}="x"`), name).toBe(`${name}="x"`);
    // printed as authkeys read them (names lower-case), never as the stored text: what sshd reads is what was checked
    expect(optionsOf('NO-PTY,From="a b"')).toBe('no-pty,from="a b"');
    expect(optionsOf('command="echo \\"a, b\\"",no-pty')).toBe('command="echo \\"a, b\\"",no-pty');
    expect(checkKeyValue(`no-pty\t${key}`, policy)).toMatchObject({ ok: true, key: { options: "no-pty" } });
  });

  it("names what is wrong with options", () => {
    expect(optionsOf("no-pty=1")).toBe('unknown key option "no-pty"');
    expect(optionsOf('pty="x"')).toBe('unknown key option "pty"');
    expect(optionsOf("from=x")).toBe("option from needs a quoted value");
    expect(optionsOf("bogus")).toBe('unknown key option "bogus"');
    expect(optionsOf("no-pty;restrict")).toBe("malformed key options");
    expect(optionsOf("no-pty,bogus")).toBe('unknown key option "bogus"');
    expect(optionsOf('command="x"port-forwarding')).toBe("malformed key options");
    // the options' own end: nothing after the comma, no key either (sshd: "unexpected end-of-options")
    expect(checkKeyValue("no-pty,", policy)).toMatchObject({ reason: "malformed key options", fingerprint: undefined });
    expect(checkKeyValue('from="10.0.0.1', policy)).toMatchObject({ reason: "unterminated quote in option from" });
    expect(checkKeyValue('from="a\\', policy)).toMatchObject({ reason: "unterminated quote in option from" });
  });

  it("a key type as the first word means no options, unless it looks like one", () => {
    for (const type of ["ssh-ed25519", "ecdsa-sha2-nistp256", "sk-ecdsa-sha2-nistp256@openssh.com"]) {
      expect(checkKeyValue(line(type, ed25519), policy), type).not.toMatchObject({ reason: expect.stringMatching(/option/) });
    }
    expect(checkKeyValue(`ssh-x=1 ${key}`, policy)).toMatchObject({ reason: 'unknown key option "ssh-x"' });
    expect(checkKeyValue(`ssh-x,no-pty ${key}`, policy)).toMatchObject({ reason: 'unknown key option "ssh-x"' });
    expect(checkKeyValue(`no-ssh-agent ${key}`, policy)).toMatchObject({ reason: 'unknown key option "no-ssh-agent"' });
  });

  // T72 N1: sshd's option loop (auth-options.c sshauthopt_parse) skips an empty option and stops at the space
  // after a comma; options-parity.test.ts puts each of these lines in front of the real sshd.
  it("a comma before the key, a leading comma and `,,` are read as sshd reads them: the key stays", () => {
    expect(optionsOf("no-pty,")).toBe("no-pty");
    expect(checkKeyValue(`no-pty,\t${key}`, policy)).toMatchObject({ ok: true, key: { options: "no-pty" } });
    expect(optionsOf(',from="a b",no-pty,')).toBe('from="a b",no-pty');
    expect(optionsOf("no-pty,,restrict")).toBe("no-pty,restrict");
    expect(optionsOf(",")).toBe("");
  });

  it("a key dropped for its options is still named by its fingerprint when the key part is a key", () => {
    for (const options of ['command="x"port-forwarding', "no-pty;restrict", "bogus", "from=x"]) {
      expect(checkKeyValue(`${options} ${key}`, policy), options).toMatchObject({ ok: false, fingerprint: fingerprintOf(ed25519) });
    }
    expect(checkKeyValue('from="a ssh-ed25519 AAAA', policy)).toMatchObject({ ok: false, fingerprint: undefined });
    expect(checkKeyValue(`bogus ssh-ed25519 ${Buffer.alloc(20, 1).toString("base64")}`, policy)).toMatchObject({ fingerprint: undefined });
  });

  it("checkOptions: config key options are one options string, nothing after it", () => {
    expect(checkOptions('from="10.0.0.0/8",no-pty')).toBeUndefined();
    expect(checkOptions("no-pty restrict")).toBe("options must not contain spaces outside quotes");
    expect(checkOptions("bogus")).toBe('unknown key option "bogus"');
    expect(checkOptions(" ")).toBe("malformed key options");
  });

  // OpenSSH auth-options.c (sshauthopt_parse) refuses a line with `multiple "from" clauses` (command, principals
  // too); found by a black-box try: such a key was printed and its owner silently locked out of it.
  it.each(["from", "command", "principals"])("a key or config options with %s= twice is refused, as sshd refuses the line", (name) => {
    const options = `${name}="a",NO-PTY,${name.toUpperCase()}="b"`;
    expect(checkKeyValue(`${options} ${line("ssh-ed25519", ed25519)}`, policy)).toEqual({
      ok: false,
      reason: `option ${name}= given more than once (sshd refuses the line)`,
      fingerprint: fingerprintOf(ed25519),
    });
    expect(checkOptions(options)).toBe(`option ${name}= given more than once (sshd refuses the line)`);
  });

  it("options sshd accepts more than once stay: tunnel, expiry-time, environment, permitopen, flags", () => {
    const options =
      'tunnel="1",tunnel="2",expiry-time="20300101",expiry-time="20310101",environment="A=1",environment="A=2",permitopen="h:1",permitopen="h:2",no-pty,no-pty';
    expect(checkKeyValue(`${options} ${line("ssh-ed25519", ed25519)}`, policy)).toMatchObject({ ok: true, key: { options } });
  });
});
