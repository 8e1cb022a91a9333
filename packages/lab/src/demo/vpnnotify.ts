import { execFile } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SlapdComponent } from "../components";
import { writeCityMmdb } from "../mmdb";
import type { RedisComponent } from "../redis";
import { SLACK_SIM_TOKEN, SlackSim } from "../sim/slack";
import type { DemoSection } from "./types";

const BUNDLE = new URL("../../../vpnnotify/dist/vpnnotify.cjs", import.meta.url).pathname;
const SECURITY = "C0SECURITY";
const HOME = {
  ip: "91.64.12.34",
  cidr: "91.64.0.0/16",
  city: "Berlin",
  region: "Land Berlin",
  code: "DE",
  country: "Germany",
  lat: 52.52,
  lon: 13.405,
};
const AWAY = {
  ip: "1.128.3.4",
  cidr: "1.128.0.0/11",
  city: "Sydney",
  region: "New South Wales",
  code: "AU",
  country: "Australia",
  lat: -33.8688,
  lon: 151.2093,
};

export const vpnnotifyDemo: DemoSection = {
  title: "vpnnotify: two OpenVPN client-connects for alice, at home and an hour later on another continent",
  async run(lab, out) {
    if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "node scripts/build.mjs vpnnotify" first`);
    const { slapd } = lab.get<SlapdComponent>("slapd");
    const { redis } = lab.get<RedisComponent>("redis");
    const alice = slapd.users.alice;
    const slack = new SlackSim();
    await slack.start();
    try {
      slack.addUser({ id: alice.slackId, name: "alice", email: alice.mail, tz: "Europe/Berlin" });
      slack.addChannel({ id: SECURITY, name: "security-alerts" });
      const dir = lab.dir;
      const city = join(dir, "demo-city.mmdb");
      writeFileSync(city, writeCityMmdb([HOME, AWAY]));
      writeFileSync(join(dir, "vpnnotify-slack.token"), `${SLACK_SIM_TOKEN}\n`, { mode: 0o600 });
      const logFile = join(dir, "vpnnotify.log");
      const configFile = join(dir, "vpnnotify-demo.json");
      writeFileSync(
        configFile,
        JSON.stringify({
          server: { name: "vpn-eu-1", environment: "production" },
          slack: { token: `file:${join(dir, "vpnnotify-slack.token")}`, baseUrl: slack.apiUrl },
          securityChannel: SECURITY,
          directory: { ldap: slapd.connection(), slackIdAttribute: "slackId" },
          geoip: { city },
          state: { redis: { url: redis.url } },
          // The spool's default sits beside the default state file under /var/lib: the demo keeps it in its own dir.
          spool: { dir: join(dir, "vpnnotify-spool") },
          deadlineMs: 5_000,
          log: { file: logFile },
        }),
      );
      out(`config: LDAP maps alice to Slack ${alice.slackId}; places shared in ${redis.url}; GeoIP from a lab City database`);
      const now = Math.floor(Date.now() / 1000);
      for (const [place, time] of [
        [HOME, now - 3600],
        [AWAY, now],
      ] as const) {
        const before = slack.messages.length;
        const r = await connect(configFile, { common_name: "alice", trusted_ip: place.ip, time_unix: String(time) });
        out(
          `$ OpenVPN client-connect alice from ${place.ip} (${place.city})  →  exit ${r.code} after ${r.ms} ms; the worker notifies in the background`,
        );
        if (r.code !== 0) throw new Error(`vpnnotify exited ${r.code}: ${r.stderr}`);
        await waitUntil(() => existsSync(logFile) && readFileSync(logFile, "utf8").trim().split("\n").length >= (place === HOME ? 1 : 2));
        await waitUntil(() => slack.messages.length > before);
      }
      for (const line of readFileSync(logFile, "utf8").trim().split("\n")) out(`  log: ${line}`);
      for (const message of slack.messages) {
        out(`Slack ${message.to === SECURITY ? "#security-alerts" : `DM to ${message.to}`}:`);
        for (const line of (message.text ?? "").split("\n")) out(`  | ${line}`);
      }
    } finally {
      await slack.stop();
    }
  },
};

function connect(configFile: string, vars: Record<string, string>): Promise<{ code: number; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BUNDLE, "/tmp/openvpn_cc_demo.tmp"],
      {
        env: { PATH: process.env.PATH, VPNNOTIFY_CONFIG: configFile, script_type: "client-connect", trusted_port: "51413", ...vars },
        timeout: 30_000,
      },
      (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr, ms: Date.now() - started }),
    );
  });
}

async function waitUntil(check: () => boolean, timeoutMs = 45_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error("vpnnotify's worker did not finish in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
