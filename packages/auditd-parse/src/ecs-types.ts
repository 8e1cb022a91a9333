/**
 * One entry of go-libaudit's normalization table (see scripts/gen-ecs-table.mjs): what an event of a syscall
 * or record type did and how Elastic Common Schema categorises it. Field lists name the event's fields to try
 * in order; the first present one wins.
 */
export interface EcsNormalization {
  /** Its place in go-libaudit's table: one entry can list both syscalls and record types. */
  index: number;
  action: string;
  objectWhat: string;
  category: readonly string[];
  type: readonly string[];
  objectPathIndex?: number;
  subjectPrimary?: readonly string[];
  subjectSecondary?: readonly string[];
  objectPrimary?: readonly string[];
  objectSecondary?: readonly string[];
  how?: readonly string[];
  sourceIp?: readonly string[];
  hasFields?: readonly string[];
  kind?: string;
  mappings?: readonly { from: string; to: string }[];
}
