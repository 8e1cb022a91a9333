import { describeError, SlackApiError, type Spool } from "@opsguard/core";
import { z } from "zod";
import type { Recipient } from "./directory";
import { historyKey, parseHookEnv, type VpnEvent } from "./event";
import { lastLoginSchema } from "./file-store";
import type { GeoInfo } from "./geoip";
import { messageContext, securityReasons } from "./message";
import type { Notifier } from "./notify";
import { type Decision, markDisowned, markTold, placeKeys } from "./places";
import { capText, cutField, type TemplateContext } from "./template";

/**
 * One login's alert as it waits in the spool: the facts it is written from (so a retry tells
 * what happened then, not now), whom it reached so far, and the Slack user once known. The
 * recipient is looked up again on a retry when it was not found the first time (LDAP hung).
 */
export interface AlertJob {
  event: Pick<VpnEvent, "source" | "user" | "ip" | "port" | "vpnIp" | "time">;
  geo: GeoInfo;
  decision: Decision;
  recipient?: { slackId: string; timeZone?: string | undefined };
  /**
   * Message timestamps of the parts delivered; `refused` tells security the DM was refused; `correction` tells the
   * user that a login their DM said started was refused after all (see dmReadAsStarted).
   */
  sent: { dm?: string; security?: string; refused?: string; correction?: string };
  /** Slack refused the DM for good (its error code): security is told instead, the DM not retried. */
  dmRefused?: string;
  /**
   * OpenVPN was answered `0` for this login (onFailure reject): its messages say the login was refused, not that a
   * session started.
   */
  loginRefused?: boolean;
  /**
   * The DM went out reading as a session that started (the login was not refused when its text was chosen): should
   * the login be refused after all, a correction is owed (correctionOwed).
   */
  dmReadAsStarted?: boolean;
  /**
   * The user answered "No, it wasn't me" (Slack user id, epoch ms): this job escalates that, and marks the login's place
   * as disowned in the store (`marked` once done: a store that was down is tried again with the spooled job).
   * `changedAnswer`: their first answer was "Yes" (a mis-click, or a second thought): the security channel is told so.
   */
  disowned?: { by: string; at: number; changedAnswer?: boolean; marked?: boolean };
  /**
   * The queued login's OpenVPN answer (LoginJob.answer), kept until it is written: a worker
   * stopped before that leaves it here for the next one, which answers "0" (its deadline passed).
   */
  answer?: { file: string; by: number };
}

/**
 * Epoch milliseconds a Date can hold: a spool entry with another time could never be written into an alert
 * (`Invalid time value`), and would be retried for hours while it suppresses the user's next logins.
 */
const epochMs = z.number().refine((t) => Math.abs(t) <= 8.64e15, "not a time a date can hold");

/** The spool file's payload, checked when read back (JSON has no Infinity: "at the same moment" is null). */
export const alertJobSchema: z.ZodType<AlertJob> = z.object({
  event: z.object({
    source: z.enum(["openvpn", "updown", "ocserv", "cli"]),
    user: z.string(),
    ip: z.string(),
    port: z.number().optional(),
    vpnIp: z.string().optional(),
    time: epochMs,
  }),
  geo: z.object({
    ip: z.string(),
    special: z.string().optional(),
    network: z.string(),
    countryCode: z.string().optional(),
    country: z.string().optional(),
    region: z.string().optional(),
    city: z.string().optional(),
    latitude: z.number().optional(),
    longitude: z.number().optional(),
    accuracyKm: z.number().optional(),
    timeZone: z.string().optional(),
    asn: z.number().optional(),
    org: z.string().optional(),
  }),
  decision: z.object({
    notify: z.boolean(),
    reason: z.enum([
      "first-login",
      "new-place",
      "renotify",
      "known-place",
      "being-told",
      "state-unavailable",
      "disowned",
      "disowned-place",
    ]),
    newPlace: z.boolean(),
    newCountry: z.boolean(),
    unplaced: z.boolean().optional(),
    impossibleTravel: z
      .object({
        km: z.number(),
        kmh: z
          .number()
          .nullable()
          .transform((v) => v ?? Number.POSITIVE_INFINITY),
        hours: z.number(),
        from: z.string(),
        beforeMs: z.number().optional(),
        duringSession: z.boolean().optional(),
      })
      .optional(),
    suspicious: z.boolean(),
    keys: z.array(z.string()),
    previous: lastLoginSchema.optional(),
    disownedPlace: z.object({ login: z.number(), answeredAt: z.number() }).optional(),
    marksUnreadable: z.string().optional(),
  }),
  recipient: z.object({ slackId: z.string(), timeZone: z.string().optional() }).optional(),
  sent: z.object({
    dm: z.string().optional(),
    security: z.string().optional(),
    refused: z.string().optional(),
    correction: z.string().optional(),
  }),
  dmRefused: z.string().optional(),
  loginRefused: z.boolean().optional(),
  dmReadAsStarted: z.boolean().optional(),
  disowned: z.object({ by: z.string(), at: z.number(), changedAnswer: z.boolean().optional(), marked: z.boolean().optional() }).optional(),
  answer: z.object({ file: z.string(), by: z.number() }).optional(),
}) as unknown as z.ZodType<AlertJob>;

export interface Delivery {
  recipient: Recipient;
  flags: string[];
  wantsDm: boolean;
  wantsSecurity: boolean;
  dmSent: boolean;
  /** The user could not be looked up right now: the DM is still owed (kept in the spool). */
  dmOwed: boolean;
  securitySent: boolean;
  /** Everything that was due went out. */
  complete: boolean;
  /** Someone was told (the user, or the security channel when the user cannot be): the place is known now. */
  told: boolean;
  errors: string[];
  stateError?: string;
}

export interface DeliverOptions {
  /** The recipient found meanwhile; looked up when not given and not in the job. */
  recipient?: Recipient;
  /** Records progress (job.sent) durably; called after each part that went out. */
  save: () => Promise<void>;
  /** Delivered from the spool: the message says how late it is. */
  late?: boolean;
}

/**
 * Sends what the job still owes (the DM, the security channel's alert) and, once someone was
 * told, records the place as told in the store. Never throws: what failed is in `errors`.
 */
export async function deliverAlert(job: AlertJob, n: Notifier, options: DeliverOptions): Promise<Delivery> {
  const recipient = job.recipient ?? options.recipient ?? (await n.directory.find(job.event.user));
  if ("slackId" in recipient) {
    job.recipient = { slackId: recipient.slackId, ...(recipient.timeZone ? { timeZone: recipient.timeZone } : {}) };
    // So a later login of this user is not let in on Slack accepting others' posts while it refuses this one's DMs.
    n.verdicts.recipient(job.event.user, recipient.slackId);
  }
  // The lookup itself failed: the user may exist, so the DM stays owed (the spool looks them up again).
  const dmOwed = job.decision.notify && "problem" in recipient && recipient.retry === true;
  const markProblem = job.disowned && !job.disowned.marked ? await markPlaceDisowned(job, n) : undefined;
  const flags = [
    ...(job.disowned
      ? [
          job.disowned.changedAnswer
            ? "the user changed their answer to: it was NOT me (their first answer was: it was me)"
            : "the user answered that this login was NOT them",
        ]
      : []),
    // What the security team must read comes first: a flag is cut at MAX_FIELD_CHARS, and the store's error can be long.
    ...(markProblem
      ? [`its place could not be marked as not theirs: until it is, a login from there may pass quietly (${markProblem})`]
      : []),
    ...securityReasons(job.decision, recipient, job.event.user),
    ...nameReasons(job.event.user, "uid" in recipient ? recipient.uid : undefined),
  ];
  const wantsDm = job.decision.notify && "slackId" in recipient && !job.dmRefused;
  const wantsSecurity = flags.length > 0 && (job.decision.notify || job.decision.suspicious);
  const contextOf = (why: string[]) => ({
    ...messageContext({
      event: job.event,
      ip: job.event.ip,
      geo: job.geo,
      decision: job.decision,
      recipient,
      server: n.server,
      defaultTimeZone: n.timeZone,
      ...(options.late ? { delayedMs: Date.now() - job.event.time } : {}),
      ...(job.loginRefused ? { loginRefused: true } : {}),
    }),
    flags: why.join("; "),
  });

  const errors: string[] = dmOwed && "problem" in recipient ? [`the DM waits for the user's lookup: ${recipient.problem}`] : [];
  if (markProblem) errors.push(`cannot mark the disowned place in the store: ${markProblem}`);
  let refusal: string | undefined;
  // One write at a time: two parts finishing together must not overwrite each other's record.
  let saving = Promise.resolve();
  const record = () => {
    saving = saving.then(options.save).catch((error: unknown) => {
      errors.push(`cannot record the delivery in the spool: ${describeError(error)}`);
    });
    return saving;
  };
  const send = async (
    part: keyof AlertJob["sent"],
    channel: string,
    text: string,
    blocks?: unknown[],
    onSent?: () => void,
  ): Promise<boolean> => {
    if (job.sent[part]) return true;
    try {
      const sent = await n.slack.postMessage({ channel, text, ...(blocks ? { blocks } : {}), unfurl_links: false, unfurl_media: false });
      job.sent[part] = sent.ts;
      onSent?.();
      await record();
      return true;
    } catch (error) {
      if (part === "dm" && error instanceof SlackApiError && DM_REFUSALS.has(error.code)) refusal = error.code;
      errors.push(describeError(error));
      return false;
    }
  };
  // With answers configured, the DM asks "was this you?" with two buttons; `vpnnotify serve` gets the answer.
  const sendDm = (slackId: string) => {
    // Its text is chosen now: a refusal given while it waits for its turn or is in flight cannot change it any more.
    const readsAsStarted = !job.loginRefused;
    const text = n.templates.user.render(contextOf(flags));
    return send("dm", slackId, text, n.answerButtons ? answerBlocks(text, answerOf(job, slackId)) : undefined, () => {
      if (readsAsStarted) job.dmReadAsStarted = true;
    });
  };
  const [dmSent, securitySent] = await Promise.all([
    wantsDm && "slackId" in recipient ? sendDm(recipient.slackId) : false,
    wantsSecurity ? send("security", n.securityChannel, n.templates.security.render(contextOf(flags))) : false,
  ]);
  if (refusal) {
    // Slack will never deliver this DM (account disabled, a bot…): nobody can be told but security.
    job.dmRefused = refusal;
    errors.pop();
    await record();
  }
  const refusalFlag = job.dmRefused ? [`nobody to tell: Slack refused the direct message (${job.dmRefused})`] : [];
  const refusalSent =
    refusalFlag.length > 0 &&
    (await send("refused", n.securityChannel, n.templates.security.render(contextOf([...refusalFlag, ...flags]))));
  // A sent DM cannot be recalled: one that read as a session that started, for a login refused meanwhile, is followed
  // by a second DM saying so. (chat.update would change it silently — Slack does not notify on an edit — and needs
  // the DM's conversation id, not the user id it was posted to.)
  const correctionSent =
    !correctionOwed(job) || !job.recipient || (await send("correction", job.recipient.slackId, correctionText(n, contextOf(flags))));
  const dmDue = wantsDm && !job.dmRefused;
  const told = !dmOwed && (job.dmRefused ? refusalSent : dmDue ? dmSent : securitySent);
  let stateError: string | undefined;
  if (told && job.decision.keys.length > 0) {
    try {
      await n.store.update(historyKey(job.event.user), (history) => markTold(history, job.decision.keys, job.event.time));
    } catch (error) {
      stateError = describeError(error);
    }
  }
  return {
    recipient,
    flags: [...refusalFlag, ...flags],
    wantsDm: dmDue || dmOwed,
    wantsSecurity: wantsSecurity || refusalFlag.length > 0,
    dmSent,
    dmOwed,
    securitySent: securitySent || refusalSent,
    complete:
      markProblem === undefined &&
      !dmOwed &&
      (!dmDue || dmSent) &&
      (!wantsSecurity || securitySent) &&
      (!job.dmRefused || refusalSent) &&
      correctionSent,
    told,
    errors,
    ...(stateError ? { stateError } : {}),
  };
}

/**
 * Marks a disowned login's address and network in the user's history (markDisowned); the problem when the store could
 * not be updated (the job stays spooled: the next try marks it). Recorded in the job, so that is done once.
 */
async function markPlaceDisowned(job: AlertJob, n: Notifier): Promise<string | undefined> {
  const disowned = job.disowned;
  if (!disowned) return undefined;
  try {
    await n.store.update(historyKey(job.event.user), (history) =>
      markDisowned(history, placeKeys(job.geo), job.event.time, disowned.at, n.policy),
    );
  } catch (error) {
    return describeError(error);
  }
  disowned.marked = true;
  return undefined;
}

/** A DM went out reading as a session that started, and the login was refused after all: the user is owed a correction. */
export function correctionOwed(job: AlertJob): boolean {
  return job.loginRefused === true && job.dmReadAsStarted === true && !job.sent.correction;
}

/** The correction: what the DM would have said had the login been refused before it was written, and that it replaces the one before. */
function correctionText(n: Notifier, context: TemplateContext): string {
  const refused = n.templates.user.render({ ...context, loginRefused: true });
  return `Correction to the message before: that login was refused, no VPN session started. ${refused}`;
}

/**
 * chat.postMessage errors that mean this user can never get a DM, so retrying is pointless
 * (https://docs.slack.dev/reference/methods/chat.postMessage, "Errors"). Errors about our own
 * token (account_inactive, invalid_auth…) are not here: once the token is fixed the DM goes out.
 */
const DM_REFUSALS = new Set(["user_disabled", "user_not_found", "channel_not_found", "cannot_dm_bot", "is_archived"]);

// Defined in event.ts (which imports nothing), so the stores can check their keys against it without an import cycle.
export { historyKey };

/**
 * A login under a spelling other than the user's canonical name: the directory's, or else the normalised one —
 * said as such, so a name no directory knows does not read as an account that exists (T30 #6c).
 */
function nameReasons(user: string, uid: string | undefined): string[] {
  const canonical = uid ?? historyKey(user);
  if (user === canonical) return [];
  const shown = cutField(JSON.stringify(user));
  return [
    uid === undefined
      ? `user name ${shown} is not in its normal form ${cutField(JSON.stringify(canonical))} (trimmed, lower-cased)`
      : `user name ${shown} is not the canonical ${cutField(JSON.stringify(canonical))}`,
  ];
}

/**
 * A login as the hook recorded it, before anything was decided: the per-host worker turns it
 * into an AlertJob (in the same spool file, so a restarted worker never handles it twice).
 */
export interface LoginJob {
  login: Pick<VpnEvent, "kind" | "source" | "user" | "ip" | "port" | "vpnIp" | "time" | "durationSec">;
  /**
   * OpenVPN waits for this deferred client-connect answer (onFailure reject): "1" once someone
   * was told, "0" when the alert failed or `by` (the hook's deadline, epoch ms) passed first.
   */
  answer?: { file: string; by: number };
  /** OpenVPN was answered `0` before the worker got to it (a worker stopping): the alert it becomes says so. */
  loginRefused?: boolean;
}

export type SpoolJob = AlertJob | LoginJob;

/**
 * A queued login, as the hook writes it. The launcher writes the same JSON without loading this
 * schema (see hook.ts); both are read back through this one.
 */
export const loginJobSchema: z.ZodType<LoginJob> = z.object({
  login: z.object({
    kind: z.enum(["connect", "disconnect"]),
    source: z.enum(["openvpn", "updown", "ocserv", "cli"]),
    user: z.string(),
    ip: z.string(),
    port: z.number().optional(),
    vpnIp: z.string().optional(),
    time: epochMs,
    durationSec: z.number().optional(),
  }),
  answer: z.object({ file: z.string(), by: z.number() }).optional(),
  loginRefused: z.boolean().optional(),
}) as unknown as z.ZodType<LoginJob>;

/**
 * A login as the sh hook (sh-hook.ts) queues it: OpenVPN's environment verbatim and when it was
 * queued. Read back as the LoginJob the Node hook writes, through parseHookEnv, the Node hook's
 * own parser; an environment that is no login (no user, no address) is an unreadable entry: it
 * moves to dead/ with a warn line naming the problem, as the Node hook would have logged it.
 */
const openvpnEnvJobSchema = z
  .object({
    openvpn: z.record(z.string(), z.string()),
    at: z.number().nonnegative(),
    answer: z.object({ file: z.string(), by: z.number() }).optional(),
  })
  .transform((job, ctx): LoginJob => {
    const call = parseHookEnv(job.openvpn, job.at);
    const event = call?.event;
    if (!event || call.problem || event.kind !== "connect") {
      ctx.addIssue({ code: "custom", message: call?.problem ?? "the queued OpenVPN environment is not a client-connect" });
      return z.NEVER;
    }
    const { deferredFile: _, ...login } = event;
    return { login, ...(job.answer ? { answer: job.answer } : {}) };
  });

const nodeJobSchema = z.union([loginJobSchema, alertJobSchema]);

/** The sh hook's entries by their `openvpn` field (so a bad one names its own problem), else the Node hook's and the worker's. */
export const spoolJobSchema: z.ZodType<SpoolJob> = z.unknown().transform((raw, ctx): SpoolJob => {
  const fromSh = typeof raw === "object" && raw !== null && "openvpn" in raw;
  const parsed = fromSh ? openvpnEnvJobSchema.safeParse(raw) : nodeJobSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) ctx.addIssue({ code: "custom", message: issue.message, path: issue.path });
  return z.NEVER;
}) as unknown as z.ZodType<SpoolJob>;

export function isLoginJob(job: SpoolJob): job is LoginJob {
  return "login" in job;
}

export type AlertSpool = Spool<SpoolJob>;

/** What a button carries back: enough to tell the security channel which login was disowned. */
export interface AnswerRef {
  /** VPN user (cut like any message value), the Slack user the DM went to, address, login time, VPN source. */
  u: string;
  s: string;
  ip: string;
  t: number;
  src: AlertJob["event"]["source"];
}

export const answerRefSchema: z.ZodType<AnswerRef> = z.object({
  u: z.string(),
  s: z.string().regex(/^[UW][A-Z0-9]+$/),
  ip: z.string(),
  t: z.number(),
  src: z.enum(["openvpn", "updown", "ocserv", "cli"]),
});

function answerOf(job: AlertJob, slackId: string): AnswerRef {
  return { u: cutField(job.event.user), s: slackId, ip: job.event.ip, t: job.event.time, src: job.event.source };
}

export const ANSWER_YES = "vpnnotify_yes";
export const ANSWER_NO = "vpnnotify_no";

/**
 * The DM as Block Kit: its text in a section (3,000 characters at most there) and the two answers.
 * Block Kit limits: https://docs.slack.dev/reference/block-kit/blocks/section-block (text up to
 * 3,000), button value up to 2,000 characters (ours stays far under: every part is capped).
 */
function answerBlocks(text: string, ref: AnswerRef): unknown[] {
  const value = JSON.stringify(ref);
  return [
    { type: "section", text: { type: "mrkdwn", text: capText(text, 3_000) } },
    {
      type: "actions",
      block_id: "vpnnotify_answer",
      elements: [
        { type: "button", action_id: ANSWER_YES, style: "primary", text: { type: "plain_text", text: "Yes, it was me" }, value },
        { type: "button", action_id: ANSWER_NO, style: "danger", text: { type: "plain_text", text: "No, it wasn't" }, value },
      ],
    },
  ];
}
