import type { UserHistory } from "./places";

/**
 * Where the memory of known places lives: a local state file (one VPN server) or Redis (several
 * servers sharing it). update() is an atomic read-modify-write of one user's history: `change`
 * may run more than once when another writer got in between, so it must be pure.
 */
export interface PlaceStore {
  /** "state file /var/lib/…", "redis 10.0.0.5:6379": for log lines. */
  readonly name: string;
  /**
   * `asGiven`: the login's user name as the VPN server gave it, before its normal form (`user`); a store seeding a new
   * user's history from the original vpnnotify's keys looks it up under that name first.
   */
  update(
    user: string,
    change: (history: UserHistory | undefined) => UserHistory | undefined,
    options?: { asGiven?: string },
  ): Promise<UserHistory | undefined>;
  get(user: string): Promise<UserHistory | undefined>;
  close(): Promise<void>;
}
