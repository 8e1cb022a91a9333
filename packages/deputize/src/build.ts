import {
  basicAuthFromUrl,
  ConfigError,
  createGitLabClient,
  HttpClient,
  type HttpClientOptions,
  LdapClient,
  type Logger,
  ldapOptionsFromConfig,
  registerUrlSecrets,
  resolveHeaderSecret,
  SlackClient,
} from "@opsguard/core";
import type { DeputizeConfig, SinkConfig, SourceConfig } from "./config";
import { GitLabGroupSink } from "./sinks/gitlab";
import { GitLabApprovalRuleSink } from "./sinks/gitlab-approval-rule";
import { LdapGroupSink } from "./sinks/ldap-group";
import type { Sink } from "./sinks/sink";
import { SlackSink } from "./sinks/slack";
import { WebhookSink } from "./sinks/webhook";
import { OpsgenieSource } from "./sources/opsgenie";
import { PagerDutySource } from "./sources/pagerduty";
import { RotationSource } from "./sources/rotation";
import type { Source } from "./sources/source";
import { DeputizeState } from "./state";

export interface Deputize {
  sources: Source[];
  sinks: Sink[];
  state: DeputizeState;
  settings: Pick<DeputizeConfig, "lookAheadMinutes" | "graceMinutes" | "allowEmpty" | "maxRemovals" | "stateDir">;
  /** `deputize next`'s hours, and the Slack client for look-ahead DMs when `lookAhead.dm` is on. */
  lookAhead: { hours: number; dm: SlackClient | undefined };
  /** Closes the LDAP connection, if one was opened. */
  close(): Promise<void>;
}

export interface BuildOptions {
  log?: Logger;
  env?: NodeJS.ProcessEnv;
  /** Benchmarks count requests with it. */
  onHttpAttempt?: HttpClientOptions["onAttempt"];
  /** status and run --dry-run: the state file is only read, never moved aside or written. */
  readOnly?: boolean;
}

/** Sources, sinks and state from a validated config; secrets are resolved here, once. */
export function buildDeputize(config: DeputizeConfig, options: BuildOptions = {}): Deputize {
  const state = new DeputizeState(config.stateDir, options.log, { readOnly: options.readOnly ?? false });
  let ldap: LdapClient | undefined;
  const ldapClient = async (): Promise<LdapClient> => {
    if (!config.ldap) throw new ConfigError("an ldap-group sink needs an ldap section");
    ldap ??= new LdapClient({ ...ldapOptionsFromConfig(config.ldap, "ldap", options.env), log: options.log });
    return ldap;
  };
  // Every HTTP client (sources, webhook, GitLab, Slack) shares the timeout, retry bound and logging.
  const httpOptions = {
    timeoutMs: config.timeoutMs,
    retries: config.retries,
    ...(options.log ? { log: options.log } : {}),
    ...(options.onHttpAttempt ? { onAttempt: options.onHttpAttempt } : {}),
  };
  const http = (service: string, baseUrl: string, headers: Record<string, string>): HttpClient =>
    new HttpClient({ service, baseUrl, headers, ...httpOptions });

  const sources = config.sources.map((source, i) => buildSource(source, i, http, options.env));
  const sinks = config.sinks.map((sink, i) => buildSink(sink, i, { config, http, httpOptions, ldapClient, state, options }));
  for (const list of [sources, sinks]) {
    const names = list.map((x) => x.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup)
      throw new ConfigError(`two ${list === sources ? "sources" : "sinks"} are named "${dup}"`, { hint: "give each a distinct name" });
  }
  return {
    sources,
    sinks,
    state,
    settings: config,
    lookAhead: { hours: config.lookAhead?.hours ?? 12, dm: dmClient(config, httpOptions, options.env) },
    close: async () => {
      await ldap?.close();
    },
  };
}

/** The Slack client look-ahead DMs are sent with: lookAhead.slackToken, else the first slack sink's token. */
function dmClient(config: DeputizeConfig, httpOptions: SinkContext["httpOptions"], env?: NodeJS.ProcessEnv): SlackClient | undefined {
  const lookAhead = config.lookAhead;
  if (!lookAhead?.dm) return undefined;
  const sinkIndex = config.sinks.findIndex((s) => s.type === "slack");
  const sink = config.sinks[sinkIndex];
  const slackSink = sink?.type === "slack" ? sink : undefined;
  const token = lookAhead.slackToken
    ? resolveHeaderSecret(lookAhead.slackToken, "lookAhead.slackToken", env)
    : slackSink
      ? resolveHeaderSecret(slackSink.token, `sinks[${sinkIndex}].token`, env)
      : undefined;
  if (!token) throw new ConfigError("lookAhead.dm needs a Slack bot token", { hint: "set lookAhead.slackToken or add a slack sink" });
  const baseUrl = lookAhead.slackBaseUrl ?? slackSink?.baseUrl;
  return new SlackClient({ token, ...(baseUrl ? { baseUrl } : {}), ...httpOptions });
}

type MakeHttp = (service: string, baseUrl: string, headers: Record<string, string>) => HttpClient;

function buildSource(source: SourceConfig, i: number, http: MakeHttp, env?: NodeJS.ProcessEnv): Source {
  const keyPath = `sources[${i}]`;
  const name = source.name ?? (i === 0 ? source.type : `${source.type}-${i + 1}`);
  switch (source.type) {
    case "pagerduty": {
      const token = resolveHeaderSecret(source.token, `${keyPath}.token`, env).reveal();
      const authorization = source.auth === "bearer" ? `Bearer ${token}` : `Token token=${token}`;
      return new PagerDutySource({
        name,
        http: http("PagerDuty API", source.baseUrl, { authorization, accept: "application/vnd.pagerduty+json;version=2" }),
        schedules: source.schedules,
        escalationLevels: source.escalationLevels,
      });
    }
    case "opsgenie": {
      const key = resolveHeaderSecret(source.apiKey, `${keyPath}.apiKey`, env).reveal();
      return new OpsgenieSource({
        name,
        http: http("Opsgenie API", source.baseUrl, { authorization: `GenieKey ${key}` }),
        schedules: source.schedules,
        identifierType: source.identifierType,
      });
    }
    case "rotation":
      return new RotationSource({ name, file: source.file, schedules: source.schedules });
  }
}

interface SinkContext {
  config: DeputizeConfig;
  http: MakeHttp;
  httpOptions: Pick<HttpClientOptions, "timeoutMs" | "retries" | "log" | "onAttempt">;
  ldapClient: () => Promise<LdapClient>;
  state: DeputizeState;
  options: BuildOptions;
}

function buildSink(sink: SinkConfig, i: number, ctx: SinkContext): Sink {
  const keyPath = `sinks[${i}]`;
  const env = ctx.options.env;
  switch (sink.type) {
    case "ldap-group":
      return new LdapGroupSink({
        name: sink.name ?? `ldap:${sink.group.split(",")[0]?.replace(/^[^=]*=/, "")}`,
        client: ctx.ldapClient,
        group: sink.group,
        peopleBase: sink.peopleBase ?? ctx.config.ldap?.baseDn ?? "",
        peopleFilter: sink.peopleFilter,
        emailAttribute: sink.emailAttribute,
        uidAttribute: sink.uidAttribute,
        permanentMembers: sink.permanentMembers,
        schedules: sink.schedules,
      });
    case "gitlab-group":
      return new GitLabGroupSink({
        name: sink.name ?? `gitlab:${sink.group}`,
        http: createGitLabClient({
          baseUrl: sink.baseUrl,
          token: resolveHeaderSecret(sink.token, `${keyPath}.token`, env),
          auth: sink.auth,
          ...ctx.httpOptions,
        }),
        group: sink.group,
        accessLevel: sink.accessLevel,
        usernameDomains: sink.usernameDomains,
        schedules: sink.schedules,
      });
    case "gitlab-approval-rule":
      return new GitLabApprovalRuleSink({
        name: sink.name ?? `gitlab:${sink.project}:${sink.rule}`,
        http: createGitLabClient({
          baseUrl: sink.baseUrl,
          token: resolveHeaderSecret(sink.token, `${keyPath}.token`, env),
          auth: sink.auth,
          ...ctx.httpOptions,
        }),
        project: sink.project,
        rule: sink.rule,
        usernameDomains: sink.usernameDomains,
        schedules: sink.schedules,
      });
    case "slack":
      return new SlackSink({
        name: sink.name ?? `slack:${sink.channel}`,
        slack: new SlackClient({
          token: resolveHeaderSecret(sink.token, `${keyPath}.token`, env),
          ...(sink.baseUrl ? { baseUrl: sink.baseUrl } : {}),
          ...ctx.httpOptions,
        }),
        state: ctx.state,
        channel: sink.channel,
        topic: sink.topic,
        announce: sink.announce,
        announceChannels: sink.announceChannels,
        usergroup: sink.usergroup,
        schedules: sink.schedules,
        log: ctx.options.log,
      });
    case "webhook": {
      const headers = Object.fromEntries(
        Object.entries(sink.headers).map(([header, ref]) => [
          header,
          resolveHeaderSecret(ref, `${keyPath}.headers.${header}`, env).reveal(),
        ]),
      );
      // The whole URL is the webhook's own credential (a token in its query, path or userinfo): redacted wherever a
      // receiver echoes it, and errors name its origin only (T43 N3).
      registerUrlSecrets(sink.url);
      const url = new URL(sink.url);
      // user:password@ is sent as HTTP Basic (config checked: https or loopback, no other Authorization header); the
      // README promised this form works (T43 N4)
      const basic = basicAuthFromUrl(url);
      if (basic) headers.authorization = basic;
      return new WebhookSink({
        name: sink.name ?? `webhook:${url.host}`,
        http: new HttpClient({ service: `webhook ${url.host}`, baseUrl: url.origin, headers, urlIsSecret: true, ...ctx.httpOptions }),
        url: url.toString(),
        state: ctx.state,
        schedules: sink.schedules,
      });
    }
  }
}
