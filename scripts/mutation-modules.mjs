// The decision modules under mutation testing, each with the tests that are meant to catch a change in it.
// Tests are scoped per module so a run stays within minutes on a 2-core machine: only these files run.
// `mutate` names whole files, or code by anchors ({ file, from, to, covers }: scripts/mutation-anchors.mjs),
// never by line numbers, which drift onto other code when the file changes.
export const MODULES = {
  "core-ldap-escape": {
    what: "LDAP filter and DN escaping, filter parsing, DN normalising",
    mutate: ["packages/core/src/ldap/filter.ts", "packages/core/src/ldap/dn.ts"],
    tests: ["packages/core/test/ldap-escape.test.ts", "packages/core/test/ldap-escape-edges.test.ts"],
  },
  "authkeys-username": {
    what: "authkeys' login name check",
    mutate: ["packages/authkeys/src/username.ts"],
    tests: ["packages/authkeys/test/keys.test.ts", "packages/authkeys/test/username.test.ts"],
  },
  "authkeys-keys": {
    what: "authkeys' key validation: key line, blob, type and size policy, options",
    mutate: ["packages/authkeys/src/keys.ts", "packages/authkeys/src/public-key.ts", "packages/authkeys/src/key-options.ts"],
    tests: [
      "packages/authkeys/test/keys.test.ts",
      "packages/authkeys/test/public-key.test.ts",
      "packages/authkeys/test/key-validation.test.ts",
    ],
  },
  "vpnnotify-places": {
    what: "vpnnotify's suppression and escalation decisions",
    mutate: ["packages/vpnnotify/src/places.ts"],
    tests: [
      "packages/vpnnotify/test/places.test.ts",
      "packages/vpnnotify/test/notify.test.ts",
      "packages/vpnnotify/test/regressions.test.ts",
      "packages/vpnnotify/test/places-decisions.test.ts",
    ],
  },
  "sock-check-evaluate": {
    what: "sock-check's evaluation of each change against the policy",
    // evaluatePull to conflictedIdentities: which approvals count, who is a co-author, bot and emergency
    // exemptions. The unit tests only: the scenario files that also reach evaluate (rules, check, org-rules,
    // association, fail-open-r13) build git histories on the lab's GitHub, ~76 s a pass on 2 cores, and every
    // mutant here is covered by all of them: hours per run.
    mutate: [
      {
        file: "packages/sock-check/src/evaluate.ts",
        from: "evaluatePull",
        to: "conflictedIdentities",
        covers: ['rule: "stale-approval"', "exemptBot(pull, policy.exemptions.bots, terms)", "ignoreUpdateMerges", "policy.identities"],
      },
    ],
    tests: ["packages/sock-check/test/regressions.test.ts", "packages/sock-check/test/evaluate-decisions.test.ts"],
  },
  "deputize-diff": {
    what: "deputize's LDAP group diff: members compared in DN normal form, one atomic modify, the retry after a conflict",
    mutate: ["packages/deputize/src/sinks/ldap-group.ts"],
    tests: [
      "packages/deputize/test/regressions.test.ts",
      "packages/deputize/test/run.test.ts",
      "packages/deputize/test/diff-decisions.test.ts",
    ],
  },
  "authkeys-groups": {
    what: "authkeys' group check: who may log in, and which group's key options apply",
    mutate: ["packages/authkeys/src/directory.ts"],
    tests: ["packages/authkeys/test/lookup.test.ts", "packages/authkeys/test/directory.test.ts"],
  },
  "authkeys-cache": {
    what: "authkeys' offline cache and revocation: when cached keys are served, refused or deleted",
    // lookupKeys, isOutage and fromCache: the decision; the rest of lookup.ts is key
    // validation (authkeys-keys) and the fingerprint filter. cache-policy.ts decides which cached entry may
    // stand in for LDAP (too old, dated in the future, admitted by a group no longer allowed).
    mutate: [
      "packages/authkeys/src/cache.ts",
      "packages/authkeys/src/cache-policy.ts",
      {
        file: "packages/authkeys/src/lookup.ts",
        from: "lookupKeys",
        to: "fromCache",
        covers: ["if (!isOutage(error) || !cache) throw error;", "await forgetUser(config.cache.dir, user, log)"],
      },
    ],
    tests: [
      "packages/authkeys/test/lookup.test.ts",
      "packages/authkeys/test/cache.test.ts",
      "packages/authkeys/test/cache-decisions.test.ts",
    ],
  },
  "auditd-grouping": {
    what: "auditd-parse's grouping of records into events by node, time stamp and serial",
    mutate: ["packages/auditd-parse/src/assemble.ts"],
    tests: [
      "packages/auditd-parse/test/regressions.test.ts",
      "packages/auditd-parse/test/parser.test.ts",
      "packages/auditd-parse/test/grouping.test.ts",
      "packages/auditd-parse/test/grouping-edges.test.ts",
    ],
  },
  "sock-check-fail-closed": {
    what: "sock-check's fail-closed paths: a commit the provider could not answer for, an approver whose membership is unseen, a failed request and the ones skipped after it, the deploy's exit",
    // the unverified early return and the verdict, approval rules' unknown outcome and and/or, the circuit
    // (facts.ts), the deploy's exit (verdictError, unverifiedError); the rest of evaluate.ts is
    // sock-check-evaluate's. Unit tests only, as there: the scenario files take 76 s a pass.
    mutate: [
      {
        file: "packages/sock-check/src/evaluate.ts",
        from: "empty",
        to: "if (unverified !== undefined)",
        covers: ['verdict: "unverified"', "could not be verified"],
      },
      { file: "packages/sock-check/src/evaluate.ts", from: "verdict: verdictOf(", covers: ["input.facts.unverified.has(commit.sha)"] },
      { file: "packages/sock-check/src/evaluate.ts", from: "verdictOf", covers: ['if (unverified) return "unverified"'] },
      {
        file: "packages/sock-check/src/evaluate.ts",
        from: "approvalRuleViolations",
        to: "combine",
        covers: ['state: "unknown"', '"and" in expression', "none of these is met"],
      },
      "packages/sock-check/src/facts.ts",
      {
        file: "packages/sock-check/src/output.ts",
        from: "verdictError",
        to: "unverifiedError",
        covers: ["if (s.noncompliant > 0)", "allowUnverified ? undefined", "ExitCode.UNAVAILABLE", "shas.length > 10"],
      },
    ],
    tests: ["packages/sock-check/test/fail-closed-decisions.test.ts", "packages/sock-check/test/regressions.test.ts"],
  },
  "deputize-guards": {
    what: "deputize's guards: a sink left as it is after a failed source, an unknown schedule, nobody on call or placed, too many removals; who counts as a person",
    // runSink and overallExitCode; the rest of run.ts is logging, progress and DM wiring
    mutate: [
      {
        file: "packages/deputize/src/run.ts",
        from: "runSink",
        covers: [
          "sourceErrors.length > 0 && (!sink.schedules || missing.length > 0)",
          "everyone.length === 0 && !dep.settings.allowEmpty",
          "everyone.length > 0 && placedBySink === 0",
          "plan.remove.length > dep.settings.maxRemovals && !options.force",
          "await options.beforeWrite?.()",
        ],
      },
      { file: "packages/deputize/src/run.ts", from: "overallExitCode", covers: ["ExitCode.PARTIAL"] },
      "packages/deputize/src/people.ts",
    ],
    tests: ["packages/deputize/test/guards.test.ts", "packages/deputize/test/guards-apply.test.ts"],
  },
  "auditd-interpret-tables": {
    what: "auditd-parse's interpretation: how syscall arguments are read (flags, families, signals, modes …), which reader reads which argument, record numbers, architectures, errno names, file modes",
    // Scoped so one run stays within ~25 min on 2 shared cores (all of args.ts is 567 mutants, ~70 min at load
    // 13): the readers and lookups, the syscall -> argument readers table and seccomp's action numbers, and
    // decode.ts's syscall and errno lookups and modeText (307 mutants). The name tables themselves (OPEN_FLAGS,
    // PTRACE, FAMILIES, ARCH_NAMES …: number -> kernel name) are left out: every entry has a case of its own in
    // interpret-tables-cases.ts, checked against ausearch, so an edited entry fails those tests.
    mutate: [
      { file: "packages/auditd-parse/src/args.ts", from: "flags", covers: ["(rest & bit) >>> 0 === bit", "rest === 0 && out.length > 0"] },
      { file: "packages/auditd-parse/src/args.ts", from: "openFlags", covers: ["ACCESS_MODES[n & 3]"] },
      { file: "packages/auditd-parse/src/args.ts", from: "cloneFlags", to: "const signal: Reader", covers: ["n & 0xff"] },
      { file: "packages/auditd-parse/src/args.ts", from: "prot", covers: ['"PROT_NONE"'] },
      { file: "packages/auditd-parse/src/args.ts", from: "mapFlags" },
      { file: "packages/auditd-parse/src/args.ts", from: "family" },
      { file: "packages/auditd-parse/src/args.ts", from: "sockType", covers: ['"SOCK_NONBLOCK"', '"SOCK_CLOEXEC"'] },
      { file: "packages/auditd-parse/src/args.ts", from: "protocol" },
      { file: "packages/auditd-parse/src/args.ts", from: "AT_FDCWD", to: "listed", covers: ['"F_OK"', "n & 0o7777", "modeText("] },
      {
        file: "packages/auditd-parse/src/args.ts",
        from: "SYSCALL_ARGS",
        to: "syscallArg",
        covers: ["clone: [cloneFlags]", "hex.length > 8"],
      },
      { file: "packages/auditd-parse/src/args.ts", from: "SECCOMP_ACTIONS", to: "resultText", covers: ["& 0xffff0000", "0x100"] },
      {
        file: "packages/auditd-parse/src/decode.ts",
        from: "SYSCALL_TABLES",
        to: "syscallName",
        covers: ["ppc64le: SYSCALLS_PPC64", "ARCH_NAMES[raw.toLowerCase()]"],
      },
      { file: "packages/auditd-parse/src/decode.ts", from: "syscallNumberName", to: "errnoName", covers: ["ERRNO_NAMES[n]"] },
      { file: "packages/auditd-parse/src/decode.ts", from: "FILE_TYPES", to: "modeText", covers: ['"suid"', "0o777"] },
    ],
    // in process against ausearch's checked-in output (interpret-tables.test.ts keeps it current): no ausearch per mutant
    tests: ["packages/auditd-parse/test/interpret-tables-expected.test.ts", "packages/auditd-parse/test/interpret-tables-inputs.test.ts"],
  },
};

/** The module named, or a usage error listing the names. */
export function moduleNamed(name) {
  const module = MODULES[name ?? ""];
  if (!module) throw new Error(`unknown mutation module "${name}": one of ${Object.keys(MODULES).join(", ")}`);
  return module;
}
