import { testIO } from "@opsguard/core/iostreams";
import { describe, expect, it } from "vitest";
import { createAuthkeysProgram } from "../src/cli";
import { parseSshdArgv } from "../src/sshd-argv";

describe("parseSshdArgv", () => {
  it("takes sshd's shapes: [--config FILE] [lookup] <user> [fingerprint [type [key]]]", () => {
    expect(parseSshdArgv(["alice"])).toEqual({ kind: "lookup", config: undefined, user: "alice", fingerprint: undefined });
    expect(parseSshdArgv(["--config", "/etc/a.yaml", "lookup", "alice", "SHA256:x", "ssh-ed25519", "AAAA"])).toEqual({
      kind: "lookup",
      config: "/etc/a.yaml",
      user: "alice",
      fingerprint: "SHA256:x",
    });
    expect(parseSshdArgv(["-c", "/a", "lookup", "doctor"])).toMatchObject({ user: "doctor" });
    expect(parseSshdArgv(["--config=/a", "warm-up"])).toEqual({ kind: "warm-up", config: "/a" });
  });

  it("after --, as sshd-config prints it, a user name that looks like an option or a command is a user", () => {
    for (const user of ["--help", "-c", "--config", "-", "--", "doctor", "warm-up"]) {
      expect(parseSshdArgv(["--config", "/a", "lookup", "--", user, "SHA256:x"])).toEqual({
        kind: "lookup",
        config: "/a",
        user,
        fingerprint: "SHA256:x",
      });
    }
    expect(parseSshdArgv(["--", "-c", "SHA256:x"])).toMatchObject({ user: "-c", fingerprint: "SHA256:x" });
  });

  it("leaves every other shape to the full CLI", () => {
    for (const argv of [
      [],
      ["--config", "/a"],
      ["agent"],
      ["doctor"],
      ["install"],
      ["sshd-config"],
      ["help"],
      ["lookup"],
      ["--json", "alice"],
      ["alice", "-v"],
      ["--config", "-v", "alice"],
      ["alice", "a", "b", "c", "d"],
      ["alice", "--", "x"],
      ["lookup", "--"],
      ["lookup", "--", "a", "b", "c", "d", "e"],
      ["--version"],
    ]) {
      expect(parseSshdArgv(argv)).toBeUndefined();
    }
  });

  it("every command of the full CLI is a command here too, with or without arguments, never a user's lookup", () => {
    const names = createAuthkeysProgram(testIO().io)
      .commands.map((command) => command.name())
      .filter((name) => name !== "lookup");
    expect(names).toEqual(expect.arrayContaining(["audit", "verify", "doctor", "principals"]));
    for (const name of [...names, "help"]) {
      expect(parseSshdArgv([name]), name).toBeUndefined();
      expect(parseSshdArgv([name, "alice"]), name).toBeUndefined();
      expect(parseSshdArgv(["--config", "/c", name]), name).toBeUndefined();
      // after `lookup --` the same name is a user, as sshd-config prints it
      expect(parseSshdArgv(["lookup", "--", name])).toMatchObject({ kind: "lookup", user: name });
    }
  });
});
