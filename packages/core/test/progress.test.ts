import { describe, expect, it } from "vitest";
import { escapeHtml, jsonForScript, progressEnabled, progressText } from "../src/index";

describe("progressText", () => {
  it("gives bytes of the total, the rate and an ETA when the size is known", () => {
    expect(progressText({ bytes: 25 * 1048576, size: 100 * 1048576, items: 50_000, elapsedMs: 10_000, itemName: "events" })).toBe(
      "25.0 MiB of 100.0 MiB (25%), 5,000 events/s, ETA 0:30",
    );
  });

  it("gives bytes and rate only for a pipe, and hours past an hour", () => {
    expect(progressText({ bytes: 1048576, size: undefined, items: 10, elapsedMs: 2000, itemName: "events" })).toBe("1.0 MiB, 5 events/s");
    expect(progressText({ bytes: 1, size: 7201, items: 0, elapsedMs: 1000, itemName: "events" })).toMatch(/ETA 2:00:00$/);
  });
});

describe("progressEnabled", () => {
  it("is off with --quiet or without colour (not a TTY, NO_COLOR, TERM=dumb, --no-color)", () => {
    expect(progressEnabled({ color: true, opts: {} })).toBe(true);
    expect(progressEnabled({ color: true, opts: { quiet: true } })).toBe(false);
    expect(progressEnabled({ color: false, opts: {} })).toBe(false);
  });
});

describe("HTML escaping", () => {
  it("escapes markup and makes control and bidi characters visible", () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&\u001b\u202e`)).toBe("&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;\\x1b\\u{202e}");
  });

  it("writes JSON that cannot end a script element", () => {
    const text = jsonForScript({ a: "</script><!--&\u2028\u2029" });
    expect(text).toBe('{"a":"\\u003c/script\\u003e\\u003c!--\\u0026\\u2028\\u2029"}');
    expect(JSON.parse(text)).toEqual({ a: "</script><!--&\u2028\u2029" });
  });
});
