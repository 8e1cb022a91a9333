import type { RunningLab } from "../lab";

/** One part of `pnpm lab:demo`: shows one tool doing its job against the running lab. */
export interface DemoSection {
  title: string;
  /** Prints through out(), a few short lines; throwing fails the demo. */
  run(lab: RunningLab, out: (line: string) => void): Promise<void>;
}
