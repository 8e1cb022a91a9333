import { type IOStreams, systemIO } from "@opsguard/core/iostreams";
import { runEntry } from "@opsguard/core/report";
import { LAB_COMPONENTS, LAB_TOOL_CONFIGS } from "./components";
import { DEMO_SECTIONS } from "./demo/index";
import { type RunningLab, startLab } from "./lab";
import { sshdSkipReason } from "./sshd";

/** `pnpm lab:demo`: starts the lab, runs every demo section in order, stops the lab. */
async function main(io: IOStreams): Promise<0 | 1> {
  const write = (line: string) => io.stdout.write(`${line}\n`);
  let lab: RunningLab | undefined;
  try {
    const started = Date.now();
    // As another user than root, everything but the sshd logins (the authkeys section says so).
    const withoutRoot = sshdSkipReason();
    lab = await startLab({ components: LAB_COMPONENTS.filter((c) => c.name !== "sshd" || !withoutRoot), tools: LAB_TOOL_CONFIGS });
    write(`opsguard lab up in ${((Date.now() - started) / 1000).toFixed(1)} s: ${[...lab.components.keys()].join(", ")} on 127.0.0.1`);
    for (const [index, section] of DEMO_SECTIONS.entries()) {
      write(`\n[${index + 1}/${DEMO_SECTIONS.length}] ${section.title}`);
      await section.run(lab, (line) => write(`  ${line}`));
    }
    write("\ndemo complete; lab stopped.");
    return 0;
  } catch (error) {
    io.stderr.write(`demo failed: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await lab?.stop();
  }
}

const io = systemIO();
await runEntry("lab:demo", io, () => main(io));
