import { systemIO } from "@opsguard/core/iostreams";
import { runEntry } from "@opsguard/core/report";
import { runLabCli } from "./cli";

const io = systemIO();
await runEntry("lab", io, () => runLabCli(process.argv.slice(2), io));
