import { Argument, type Command, CommanderError, Option } from "commander";
import { ioOf } from "./cli";
import { UsageError } from "./errors";

/**
 * Shell completion scripts made from the commander program itself, so they list exactly the commands,
 * flags and choices --help lists. Printed by `<tool> completion bash|zsh|fish` (or, for authkeys, whose
 * first positional is a user name, `--completion SHELL`); the user installs the output where the shell looks.
 */

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

interface Flag {
  names: string[];
  /** Takes a value; its choices if commander knows them, "file" for a path. */
  value?: { choices?: readonly string[]; file: boolean };
  description: string;
}

interface Sub {
  name: string;
  description: string;
  flags: Flag[];
  /** Choices of its first argument (completion's shells). */
  words: readonly string[];
}

function flagsOf(command: Command): Flag[] {
  return command.options
    .filter((o) => !o.hidden)
    .map((o) => {
      const flag: Flag = { names: [o.short, o.long].filter((n): n is string => Boolean(n)), description: o.description };
      if (o.required || o.optional) flag.value = { file: /<(file|path|dir)>|\[(file|path|dir)\]/.test(o.flags), choices: o.argChoices };
      return flag;
    });
}

function model(program: Command): { tool: string; global: Flag[]; subs: Sub[] } {
  const help = { names: ["-h", "--help"], description: "show this help" };
  return {
    tool: program.name(),
    global: [...flagsOf(program), help],
    subs: program.commands
      .filter((c) => !(c as Command & { _hidden?: boolean })._hidden)
      .map((c) => ({ name: c.name(), description: c.description(), flags: flagsOf(c), words: c.registeredArguments[0]?.argChoices ?? [] })),
  };
}

/** A word for a shell's single-quoted string. */
function quote(text: string): string {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

function bash(program: Command): string {
  const { tool, global, subs } = model(program);
  const fn = `_${tool.replace(/[^A-Za-z0-9_]/g, "_")}_complete`;
  const valueCases = [...global, ...subs.flatMap((s) => s.flags)]
    .filter((f) => f.value)
    .map((f) => {
      // A value that is neither a choice nor a path (a name, a number) gets no suggestions.
      const words = f.value?.choices
        ? `COMPREPLY=($(compgen -W ${quote(f.value.choices.join(" "))} -- "$cur"))`
        : f.value?.file
          ? 'COMPREPLY=($(compgen -f -- "$cur"))'
          : "COMPREPLY=()";
      return `    ${f.names.join("|")}) ${words}; return ;;`;
    });
  const subCases = subs.map(
    (s) => `    ${s.name}) words=${quote([...s.words, ...[...s.flags, ...global].flatMap((f) => f.names)].join(" "))} ;;`,
  );
  return `# bash completion for ${tool}: ${tool} completion bash > /etc/bash_completion.d/${tool}
${fn}() {
  local cur prev sub="" i words
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  case "$prev" in
${[...new Set(valueCases)].join("\n")}
  esac
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      ${subs.map((s) => s.name).join("|") || "''"}) sub="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  case "$sub" in
${subCases.join("\n")}
    *) words=${quote([...subs.map((s) => s.name), ...global.flatMap((f) => f.names)].join(" "))} ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F ${fn} ${tool}
`;
}

/** zsh reads the bash script through its own bashcompinit layer: one script, the same words in both shells. */
function zsh(program: Command): string {
  const tool = program.name();
  return `#compdef ${tool}
# zsh completion for ${tool}: ${tool} completion zsh > "\${fpath[1]}/_${tool}", or eval "$(${tool} completion zsh)"
autoload -U +X bashcompinit && bashcompinit
${bash(program).replace(/^# bash completion.*\n/, "")}`;
}

function fish(program: Command): string {
  const { tool, global, subs } = model(program);
  const lines = [
    `# fish completion for ${tool}: ${tool} completion fish > ~/.config/fish/completions/${tool}.fish`,
    `complete -c ${tool} -f`,
  ];
  const flag = (f: Flag, condition: string) => {
    const parts = [`complete -c ${tool}`];
    if (condition) parts.push(`-n ${quote(condition)}`);
    for (const name of f.names) parts.push(name.startsWith("--") ? `-l ${name.slice(2)}` : `-s ${name.slice(1)}`);
    if (f.value) parts.push(f.value.choices ? `-x -a ${quote(f.value.choices.join(" "))}` : f.value.file ? "-r -F" : "-x");
    parts.push(`-d ${quote(f.description)}`);
    return parts.join(" ");
  };
  for (const s of subs) lines.push(`complete -c ${tool} -n __fish_use_subcommand -a ${s.name} -d ${quote(s.description)}`);
  for (const s of subs.filter((s) => s.words.length > 0)) {
    lines.push(`complete -c ${tool} -n ${quote(`__fish_seen_subcommand_from ${s.name}`)} -a ${quote(s.words.join(" "))}`);
  }
  for (const f of global) lines.push(flag(f, ""));
  for (const s of subs) for (const f of s.flags) lines.push(flag(f, `__fish_seen_subcommand_from ${s.name}`));
  return `${lines.join("\n")}\n`;
}

export function completionScript(program: Command, shell: string): string {
  if (shell === "bash") return bash(program);
  if (shell === "zsh") return zsh(program);
  if (shell === "fish") return fish(program);
  throw new UsageError(`unknown shell ${JSON.stringify(shell)}`, { hint: `one of ${SHELLS.join(", ")}` });
}

/** `<tool> completion bash|zsh|fish`: prints the script for that shell on stdout. */
export function addCompletionCommand(program: Command): void {
  program
    .command("completion")
    .description(`print the shell completion script (${SHELLS.join(", ")})`)
    .addArgument(new Argument("<shell>", "the shell to complete in").choices([...SHELLS]))
    .action((shell: string) => {
      ioOf(program).stdout.write(completionScript(program, shell));
    });
}

/**
 * `--completion SHELL`, for a tool whose first positional is data (authkeys: sshd passes the user name
 * there, so a `completion` command would be a user name for one spelling and a command for another).
 * It prints the script and ends the run as --help does, before any command runs.
 */
export function addCompletionOption(program: Command): void {
  program.addOption(new Option("--completion <shell>", "print the shell completion script and exit").choices([...SHELLS]));
  program.on("option:completion", (shell: string) => {
    if (!SHELLS.includes(shell as Shell)) return;
    ioOf(program).stdout.write(completionScript(program, shell));
    throw new CommanderError(0, "commander.helpDisplayed", "(completion)");
  });
}
