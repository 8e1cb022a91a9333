import { setFlagsFromString } from "node:v8";
import { runCli } from "@opsguard/core/cli";
import { systemIO } from "@opsguard/core/iostreams";
import { createAuditdParseProgram } from "./cli";

// Keep V8's young generation at its starting size instead of letting it double up to 16 MB per semi-space:
// parsing allocates fast and briefly, and this is what keeps peak RSS flat on any input size (about 10% more
// CPU in scavenges). And let the old generation grow by 10% past what the last full GC kept, not V8's usual
// 2-4x: events open for the grouping window (no EOE) outlive two scavenges, so a log with many of them
// promotes garbage steadily and the heap swelled to 36 MB (92 MB RSS, 100 MiB corpus log) for 9 MB live;
// the extra full GCs cost ~1 ms each. Both flags are read whenever the heap would grow, so setting them now works.
// (The plain parse also starts marking early: see heap.ts.)
setFlagsFromString("--semi-space-growth-factor=1");
setFlagsFromString("--heap-growing-percent=10");

void runCli(createAuditdParseProgram(systemIO()));
