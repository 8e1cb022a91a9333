import { describe, expect, it } from "vitest";
import { configSchema, DEFAULT_SECURITY_TEMPLATE, DEFAULT_USER_TEMPLATE, TEMPLATE_NAMES } from "../src/config";
import { serverLabel } from "../src/runtime";
import { compileTemplate, MAX_FIELD_CHARS, SLACK_TEXT_LIMIT } from "../src/template";

describe("message templates", () => {
  it("fills placeholders, escaping Slack markup so a value cannot mention @channel or hide a link", () => {
    const t = compileTemplate("{{user}} from {{org}}", TEMPLATE_NAMES, "templates.user");
    expect(t.render({ user: "eve <!channel>", org: "Evil & Co <https://x|y>" })).toBe(
      "eve &lt;!channel&gt; from Evil &amp; Co &lt;https://x|y&gt;",
    );
  });

  it("shows a newline or other control character in a value as an escape, so no value forges a line", () => {
    const t = compileTemplate("Hi {{user}},\n• From: {{ip}}", TEMPLATE_NAMES, "templates.user");
    const text = t.render({ user: "alice\n• From: 10.0.0.1 (office)\r\u001b[31m\u202e", ip: "1.2.3.4" });
    expect(text).toBe("Hi alice\\n• From: 10.0.0.1 (office)\\r\\u001b[31m\\u202e,\n• From: 1.2.3.4");
    expect(text.split("\n")).toHaveLength(2);
  });

  it("caps every value and the whole message, so Slack never answers msg_too_long", () => {
    const t = compileTemplate("{{user}}|{{org}}", TEMPLATE_NAMES, "t");
    const text = t.render({ user: "a".repeat(100_000), org: "b" });
    expect(text).toBe(`${"a".repeat(MAX_FIELD_CHARS)}… (100000 characters)|b`);
    // Every field at its longest, each character escaped to five: still within Slack's limit.
    const names = TEMPLATE_NAMES.map((name) => `{{${name}}}`).join(" ");
    const all = compileTemplate(`${names} ${names}`, TEMPLATE_NAMES, "t");
    const huge = all.render(Object.fromEntries(TEMPLATE_NAMES.map((name) => [name, "&".repeat(100_000)])));
    expect([...huge].length).toBeLessThanOrEqual(SLACK_TEXT_LIMIT);
    expect(huge).toMatch(/&amp;…$/);
  });

  it("keeps a section only when its value is set, and an inverted one only when it is not", () => {
    const t = compileTemplate("a{{#port}}:{{port}}{{/port}}{{^newPlace}} (known){{/newPlace}}", TEMPLATE_NAMES, "t");
    expect(t.render({ port: 443, newPlace: false })).toBe("a:443 (known)");
    expect(t.render({ newPlace: true })).toBe("a");
  });

  it("refuses unknown placeholders and unbalanced sections when the config is loaded", () => {
    expect(() => compileTemplate("{{password}}", TEMPLATE_NAMES, "templates.user")).toThrow(
      /templates\.user: unknown placeholder \{\{password\}\}/,
    );
    expect(() => compileTemplate("{{#port}}x", TEMPLATE_NAMES, "t")).toThrow(/never closed/);
    expect(() => compileTemplate("x{{/port}}", TEMPLATE_NAMES, "t")).toThrow(/not open/);
  });

  it("renders the default templates from every name without a blank line", () => {
    for (const source of [DEFAULT_USER_TEMPLATE, DEFAULT_SECURITY_TEMPLATE]) {
      const text = compileTemplate(source, TEMPLATE_NAMES, "t").render({
        user: "u",
        ip: "1.2.3.4",
        location: "here",
        time: "now",
        server: "s",
      });
      expect(text).not.toMatch(/\n\s*\n|\{\{/);
    }
  });
});

describe("config", () => {
  const minimal = { server: { name: "s" }, slack: { token: "env:X" }, securityChannel: "C1" };

  it("takes an IANA time zone and refuses a made-up one, naming what it expects", () => {
    expect(configSchema.parse({ ...minimal, timeZone: "Europe/Berlin" }).timeZone).toBe("Europe/Berlin");
    const bad = configSchema.safeParse({ ...minimal, timeZone: "Mars/Olympus" });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]).toMatchObject({ path: ["timeZone"], message: expect.stringContaining("IANA time zone") });
  });

  it("guesses the environment from the host name by a configured pattern, as the original did", () => {
    const parse = (server: Record<string, unknown>) =>
      configSchema.parse({ server: { name: "vpn-1", ...server }, slack: { token: "env:X" }, securityChannel: "C1" }).server;
    const pattern = parse({ environmentPattern: "\\.(dev|staging|prod)\\." });
    expect(serverLabel(pattern, "vpn-1.prod.example.org")).toEqual({ name: "vpn-1", environment: "prod" });
    expect(serverLabel(pattern, "vpn-1.example.org")).toEqual({ name: "vpn-1" });
    expect(serverLabel(parse({ environmentPattern: "bunker" }), "bunker-vpn")).toEqual({ name: "vpn-1", environment: "bunker" });
    expect(serverLabel(parse({ environment: "production" }), "anything")).toEqual({ name: "vpn-1", environment: "production" });
    expect(() => parse({ environmentPattern: "(unclosed" })).toThrow(/regular expression/);
    expect(() => parse({ environment: "x", environmentPattern: "y" })).toThrow(/not both/);
  });
});
