import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { configSchema } from "../../../deputize/src/config";
import type { ToolConfigBuilder } from "../lab";
import { type ConfigInput, toolBin } from "./sections";

type DeputizeInput = ConfigInput<typeof configSchema>;

/** A local rotation beside the SaaS schedules: carol this week (since three days ago), then alice. */
function writeRotationFile(dir: string): string {
  const path = join(dir, "deputize-rotation.yaml");
  const start = new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10);
  writeFileSync(
    path,
    [
      "schedules:",
      "  platform:",
      "    timeZone: UTC",
      `    start: "${start}"`,
      '    handoff: "00:00"',
      "    rotationDays: 7",
      "    members: [carol@opsguard.test, alice@opsguard.test]",
      "",
    ].join("\n"),
  );
  return path;
}

/**
 * deputize: whoever PagerDuty, Opsgenie and the rotation file have on call goes into slapd's on-call
 * group (as the deputize service account), GitLab's platform/oncall and the Slack #oncall topic and @oncall.
 */
export const deputizeConfig: ToolConfigBuilder<DeputizeInput> = {
  tool: "deputize",
  build({ ldapService: ldap, ldapDirectory: directory, pagerduty, opsgenie, gitlab, slack, slackLab }, dir): DeputizeInput | undefined {
    if (!ldap || !directory) return undefined;
    const sources: DeputizeInput["sources"] = [{ type: "rotation", file: writeRotationFile(dir) }];
    if (pagerduty) sources.push({ type: "pagerduty", token: pagerduty.token, baseUrl: pagerduty.baseUrl, schedules: pagerduty.schedules });
    if (opsgenie) sources.push({ type: "opsgenie", apiKey: opsgenie.apiKey, baseUrl: opsgenie.baseUrl, schedules: opsgenie.schedules });
    const sinks: DeputizeInput["sinks"] = [{ type: "ldap-group", group: directory.oncallGroupDn, peopleBase: directory.peopleDn }];
    if (gitlab) sinks.push({ type: "gitlab-group", baseUrl: gitlab.baseUrl, token: gitlab.token, group: gitlab.oncallGroup });
    if (slack && slackLab) {
      sinks.push({
        type: "slack",
        token: slack.token,
        baseUrl: slack.baseUrl,
        channel: slackLab.oncallChannel,
        usergroup: slackLab.oncallGroup,
      });
    }
    return { sources, sinks, ldap, stateDir: join(dir, "deputize-state") };
  },
  tryCommand: (configFile) => `node ${toolBin("deputize")} --config ${configFile} run --dry-run`,
};
