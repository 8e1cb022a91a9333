import type { Person } from "../src/people";
import type { Source } from "../src/sources/source";

/** An in-memory source: who is on call per schedule, or the error its API would give. */
export function fakeSource(name: string, schedules: Record<string, Person[]> | Error): Source {
  return {
    name,
    onCall: async () => {
      if (schedules instanceof Error) throw schedules;
      return Object.entries(schedules).map(([schedule, people]) => ({ source: name, schedule, people }));
    },
    shifts: async () => [],
  };
}
