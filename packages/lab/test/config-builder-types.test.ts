import { describe, expect, it } from "vitest";
import type { authkeysConfigSchema } from "../../authkeys/src/config";
import type { configSchema as deputizeSchema } from "../../deputize/src/config";
import type { ConfigInput } from "../src/configs/sections";
import { LAB_TOOL_CONFIGS } from "../src/index";

/**
 * The lab's tool config builders return each tool's config as the tool's own zod schema reads it
 * (`z.input<typeof schema>`, imported as types only: the lab never runs a tool's code). Each line below is a
 * builder mistake `tsc -p tsconfig.json` must reject; were the builders loosened back to
 * Record<string, unknown>, a `@ts-expect-error` would go unused and the typecheck fails.
 */

const unknownKey = (): ConfigInput<typeof authkeysConfigSchema> => ({
  ldap: {},
  // @ts-expect-error authkeys has no top-level cacheDir (it is cache.dir)
  cacheDir: "/tmp/x",
});

const unknownSinkType = (): ConfigInput<typeof deputizeSchema>["sinks"] => [
  // @ts-expect-error deputize has no "gitlab-grp" sink
  { type: "gitlab-grp", baseUrl: "https://gitlab.test", token: "t", group: "g" },
];

describe("the lab's tool config builders", () => {
  it("are one per service-backed tool, typed from the tool's schema (the mistakes above are tsc errors)", () => {
    expect(LAB_TOOL_CONFIGS.map((b) => b.tool).sort()).toEqual(["authkeys", "deputize", "sock-check", "vpnnotify"]);
    expect([unknownKey, unknownSinkType].every((f) => typeof f === "function")).toBe(true);
  });
});
