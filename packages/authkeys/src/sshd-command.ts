import { resolve } from "node:path";
import { testIO } from "@opsguard/core/iostreams";
import { createAuthkeysProgram } from "./cli";
import { sshdCommandWords } from "./sshd-config";

/**
 * The config file a command line sshd runs hands authkeys, made absolute (sshd runs the command from /), or
 * null when it names none (authkeys then reads /etc/opsguard: sshd gives the command no $AUTHKEYS_CONFIG).
 * The words are read as sshd splits them, then by authkeys' own program, as the run would read them: the last
 * --config wins, one after the command counts too, nothing after "--" is an option (T58 NEW-3: a second copy
 * of the parsing took the first --config only, and none after `lookup`). Undefined when the line does not run
 * authkeys' `lookup` or `principals` command by name, as sshd-config prints it (another program, whose config is
 * not ours to guess), or when authkeys would refuse its options.
 */
export function commandConfig(line: string): string | null | undefined {
  const words = sshdCommandWords(line);
  if (!words) return undefined;
  // Only parsed, never run; the streams take what commander writes when it refuses the words (a --config without a file).
  const program = createAuthkeysProgram(testIO().io);
  let operands: string[];
  try {
    // The first step of every run (commander's _parseCommand): the program's options, wherever they stand before "--".
    ({ operands } = program.parseOptions(words.slice(1)));
  } catch {
    return undefined;
  }
  if (!(operands[0] === "lookup" || operands[0] === "principals")) return undefined;
  const config = program.opts<{ config?: string }>().config;
  return config === undefined ? null : resolve("/", config);
}
