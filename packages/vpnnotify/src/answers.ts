import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { isIP } from "node:net";
import { describeError, type Secret, slackRequestProblem, UnavailableError } from "@opsguard/core";
import { networkOf, normalizeIp } from "./address";
import { type AlertJob, ANSWER_NO, ANSWER_YES, type AnswerRef, answerRefSchema, deliverAlert, historyKey } from "./alert";
import { CLOCK_SKEW_MS, vpnUser } from "./event";
import type { GeoInfo } from "./geoip";
import { type Notifier, noHistoryFor } from "./notify";
import { cutField } from "./template";

/** An interaction payload is a few KiB; anything far larger is not Slack. */
const MAX_BODY = 64 * 1024;

/**
 * Slack's signed requests are accepted for five minutes either side of now (core's slackRequestProblem): a
 * (timestamp, signature) pair is remembered that long after its timestamp, after which the timestamp alone refuses it.
 */
const REPLAY_WINDOW_MS = 5 * 60_000 + 60_000;
/**
 * An alert's answer is remembered this long: a double click, or the same DM answered again later that day, is a
 * second answer. The buttons stay in the DM for good; a day bounds the memory, and serve restarted forgets them.
 */
const ANSWER_MEMORY_MS = 24 * 3_600_000;
/** At most this many of each, the oldest forgotten first: far above what one VPN server's users answer in a day. */
const MAX_REMEMBERED = 10_000;

/** Keys remembered until their own expiry, at most MAX_REMEMBERED (the oldest go first): bounded memory. */
class Remembered<V> {
  readonly #entries = new Map<string, { value: V; until: number }>();

  get(key: string, now = Date.now()): V | undefined {
    const entry = this.#entries.get(key);
    return entry && entry.until > now ? entry.value : undefined;
  }

  set(key: string, value: V, until: number, now = Date.now()): void {
    // Insertion order is about expiry order (each key kept about as long): the walk ends at the first one still
    // remembered, and one expired behind it goes at a later walk, or first when the cap is reached.
    for (const [k, entry] of this.#entries) {
      if (entry.until > now) break;
      this.#entries.delete(k);
    }
    this.#entries.delete(key);
    this.#entries.set(key, { value, until });
    if (this.#entries.size > MAX_REMEMBERED) this.#entries.delete(this.#entries.keys().next().value as string);
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}

export interface AnswerServerOptions {
  signingSecret: Secret;
  host: string;
  port: number;
  path: string;
}

/**
 * Slack interactivity for the DM's "was this you?" buttons. Every request must carry Slack's
 * signature (else 401 and a warning); "Yes" is logged, "No" is logged and escalated to the
 * security channel with the session's details. The escalation is spooled before Slack gets its
 * 200, so it survives a Slack outage (retried by `vpnnotify flush`); a failure to spool answers
 * 500, which Slack shows the user, so an answer is never silently dropped.
 */
export async function startAnswerServer(n: Notifier, options: AnswerServerOptions): Promise<{ url: string; close: () => Promise<void> }> {
  const seen: Seen = { requests: new Remembered(), answers: new Remembered() };
  const server = createServer((req, res) => {
    handle(n, options, seen, req, res).catch((error: unknown) => {
      n.log.error("answer failed", { error: describeError(error) });
      if (!res.headersSent) reply(res, 500, "internal error");
    });
  });
  // Slack waits 3 s for the acknowledgement; a client that dribbles its request is cut off.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new UnavailableError(`cannot listen on ${options.host}:${options.port}: ${error.code ?? error.message}`, {
          hint: "check answers.listen (a free port, an address of this host)",
        }),
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}${options.path}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** What serve remembers: the signed requests accepted (against replays), and each alert's first answer. */
interface Seen {
  requests: Remembered<true>;
  answers: Remembered<{ no: boolean; at: number }>;
}

async function handle(n: Notifier, options: AnswerServerOptions, seen: Seen, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (new URL(req.url ?? "/", "http://x").pathname !== options.path) return reply(res, 404, "not found");
  if (req.method !== "POST") return reply(res, 405, "POST only");
  // Taken now: a body cut off at the limit ends the request, and its socket goes with it.
  const from = req.socket.remoteAddress;
  const body = await readBody(req);
  if (!body) {
    // Logged as every refusal is: a "No" cut off here would otherwise leave the admin no trace (T62 F7).
    n.log.warn("refused a request", {
      reason: `too large: over ${MAX_BODY} bytes (a button's answer is a few KiB)`,
      from,
    });
    return reply(res, 413, "request too large");
  }
  const header = (name: string) => {
    const value = req.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const problem = slackRequestProblem({
    signingSecret: options.signingSecret,
    timestamp: header("x-slack-request-timestamp"),
    signature: header("x-slack-signature"),
    body,
  });
  if (problem) {
    n.log.warn("refused a request that is not from Slack", { reason: problem, from });
    return reply(res, 401, "invalid signature");
  }
  // Slack signs each request once, over its timestamp: the same pair again within the window is a copy someone
  // captured and sent back (Slack's signing doc uses the timestamp against replays; T48 F2). Remembered only once
  // verified, so unsigned junk cannot fill the memory.
  const timestamp = header("x-slack-request-timestamp") ?? "";
  const pair = `${timestamp} ${header("x-slack-signature")}`;
  if (seen.requests.get(pair)) {
    n.log.warn("refused a request that is not from Slack", {
      reason: "a replay: this timestamp and signature were accepted before",
      from,
    });
    return reply(res, 401, "replayed request");
  }
  seen.requests.set(pair, true, Number(timestamp) * 1000 + REPLAY_WINDOW_MS);
  const answer = parseAnswer(body);
  if (answer === "ignore") return reply(res, 200, "");
  if (typeof answer === "string") {
    n.log.warn("refused an interaction", { reason: answer });
    return reply(res, 400, answer);
  }
  if ("refused" in answer) {
    // Nothing is marked or escalated from it: a mark from a value that names no one address, no user or no real time
    // is one that `marks`, `marks --remove` and decide can never match (T71 N1). Said to Slack too (a 400 shows the
    // person who clicked an error), so the answer is not taken as recorded.
    n.log.warn(`refused an answer (${answer.no ? "it was NOT me" : "it was me"}): this answer could not be recorded`, {
      reason: answer.refused,
      slackUser: cutField(answer.clicker),
      from,
    });
    return reply(res, 400, `this answer could not be recorded: ${answer.refused}`);
  }
  const { ref, clicker, no } = answer;
  const fields = { user: ref.u, ip: ref.ip, login: new Date(ref.t).toISOString(), slackUser: clicker };
  if (clicker !== ref.s) {
    // Only the person the DM went to can vouch for the login (a forwarded message is someone else).
    n.log.warn("ignored an answer from someone the alert was not sent to", { ...fields, to: ref.s });
    return reply(res, 200, "");
  }
  // One answer per alert (the login the button names): a double click on "No" must not escalate twice. A later
  // answer is acknowledged, so Slack shows no error, and logged; one that contradicts the first at warning level.
  // Except a "No" after a "Yes" (a mis-click on the green button, or second thoughts): a "No" is never lost, so it is
  // escalated as a changed answer (T62 F1). A "Yes" after a "No" stays ignored: fail closed.
  const alert = JSON.stringify([ref.s, ref.u, ref.ip, ref.t, ref.src]);
  const first = seen.answers.get(alert);
  const changed = first !== undefined && !first.no && no;
  if (first && !changed) {
    const said = (answeredNo: boolean) => (answeredNo ? "it was NOT me" : "it was me");
    const line = `ignored a second answer for the same alert (${said(no)}): the first one stands`;
    const was = { ...fields, first: said(first.no), firstAt: new Date(first.at).toISOString() };
    if (first.no === no) n.log.info(line, was);
    else n.log.warn(line, was);
    return reply(res, 200, "");
  }
  seen.answers.set(alert, { no, at: Date.now() }, Date.now() + ANSWER_MEMORY_MS);
  if (!no) {
    reply(res, 200, "");
    // A "Yes" never makes a disowned place the user's (whoever holds the credential may hold the Slack session too),
    // and the log says so rather than reading as if it had.
    const disowned = await disownedAt(n, ref).catch(() => undefined);
    if (disowned) {
      n.log.warn("answer: it was me, from where this user said a login was NOT them: the place stays disowned", {
        ...fields,
        disowned: new Date(disowned).toISOString(),
      });
    } else n.log.info("answer: it was me", fields);
    return;
  }
  if (first) n.log.warn("answer changed to: it was NOT me", { ...fields, first: "it was me", firstAt: new Date(first.at).toISOString() });
  else n.log.warn("answer: it was NOT me", fields);
  const job = disownedJob(n, ref, clicker, changed);
  const entry = await n.spool.add(job, n.leaseUntil()).catch((error: unknown) => {
    // Not kept: Slack shows the user an error (500), and clicking again must escalate, not be a second answer.
    if (first) seen.answers.set(alert, first, first.at + ANSWER_MEMORY_MS);
    else seen.answers.delete(alert);
    throw error;
  });
  reply(res, 200, "");
  const delivery = await deliverAlert(job, n, { save: () => n.spool.save(entry) });
  if (delivery.complete) await n.spool.remove(entry);
  else {
    await n.spool.fail(entry, delivery.errors.join("; ") || "not delivered");
    n.log.error("escalation spooled for retry", { ...fields, error: delivery.errors.join("; ") });
  }
}

type Parsed = { ref: AnswerRef; clicker: string; no: boolean } | { refused: string; clicker: string; no: boolean } | "ignore" | string;

/** A block_actions payload for one of our buttons; "ignore" for any other interaction. */
function parseAnswer(body: Buffer): Parsed {
  let payload: {
    type?: unknown;
    user?: { id?: unknown };
    actions?: { action_id?: unknown; value?: unknown }[];
  };
  try {
    payload = JSON.parse(new URLSearchParams(body.toString("utf8")).get("payload") ?? "");
  } catch {
    return "the body has no JSON payload field";
  }
  if (payload?.type !== "block_actions" || !Array.isArray(payload.actions)) return "ignore";
  const ours = payload.actions.filter((a) => a?.action_id === ANSWER_YES || a?.action_id === ANSWER_NO);
  // Slack sends the one element clicked (https://docs.slack.dev/reference/interaction-payloads/block_actions-payload,
  // "actions"): two answers at once are no click, and taking either would guess (T62 F9).
  if (ours.length > 1) return `the payload carries ${ours.length} answers (Slack sends one per click)`;
  const action = ours[0];
  if (!action) return "ignore";
  let ref: AnswerRef;
  try {
    ref = answerRefSchema.parse(JSON.parse(String(action.value)));
  } catch {
    return "the button's value is not one vpnnotify wrote";
  }
  const clicker = typeof payload.user?.id === "string" ? payload.user.id : "";
  const no = action.action_id === ANSWER_NO;
  const problem = refProblem(ref);
  return problem ? { refused: `the button's value is not one vpnnotify wrote: ${problem}`, clicker, no } : { ref, clicker, no };
}

/**
 * What is wrong with a button's value, checked as `notify` checks its arguments: one IP address (not a network, not a
 * zone), a user name with a history key (not empty, valid UTF-8), and a login time that is a time no more than a day
 * (CLOCK_SKEW_MS) ahead of this host's clock. vpnnotify's own buttons always pass (they carry a login it handled);
 * anything else signed with the app's secret would write marks no command can reach (NaN::/56, 0.0.0.0/0, the user "",
 * a login in the year 5138: T71 N1). Values are cut and quoted as JSON (the logger escapes the rest).
 */
function refProblem(ref: AnswerRef, now = Date.now()): string | undefined {
  const shown = (value: unknown) => JSON.stringify(typeof value === "string" ? cutField(value) : value);
  const ip = normalizeIp(ref.ip);
  if (ip === undefined || ref.ip.includes("%") || isIP(ip) === 0) return `its ip ${shown(ref.ip)} is not one IP address`;
  const user = vpnUser(ref.u);
  if (user === undefined) return `its user ${shown(ref.u)} is empty (or only spaces or control characters)`;
  if (noHistoryFor(user)) return `its user ${shown(ref.u)} is not valid UTF-8 (or holds U+FFFD, what such bytes decode to)`;
  // Date's range too: a time it cannot hold (1e300) would throw where the answer is logged.
  if (!Number.isFinite(ref.t) || Number.isNaN(new Date(ref.t).getTime())) return `its login time ${shown(ref.t)} is not a time`;
  if (ref.t - now >= CLOCK_SKEW_MS) {
    return `its login time ${new Date(ref.t).toISOString()} is more than a day ahead of this host's clock`;
  }
  return undefined;
}

/** When the user disowned a login from the answered login's address or network (its "No"), if they did. */
async function disownedAt(n: Notifier, ref: AnswerRef): Promise<number | undefined> {
  const history = await n.store.get(historyKey(ref.u));
  const ip = normalizeIp(ref.ip) ?? ref.ip;
  const marks = [history?.disowned?.[`ip:${ip}`], history?.disowned?.[`net:${networkOf(ip)}`]];
  return marks.reduce<number | undefined>((at, m) => (m && m.answeredAt > (at ?? 0) ? m.answeredAt : at), undefined);
}

/** The escalation of a disowned login, as a security-channel-only alert job. */
function disownedJob(n: Notifier, ref: AnswerRef, by: string, changedAnswer: boolean): AlertJob {
  const ip = normalizeIp(ref.ip) ?? ref.ip;
  let geo: GeoInfo;
  try {
    geo = n.geo.lookup(ip);
  } catch {
    geo = { ip, network: networkOf(ip) };
  }
  return {
    event: { source: ref.src, user: cutField(ref.u), ip, time: ref.t },
    geo,
    decision: { notify: false, reason: "disowned", newPlace: false, newCountry: false, suspicious: true, keys: [] },
    recipient: { slackId: ref.s },
    sent: {},
    disowned: { by, at: Date.now(), ...(changedAnswer ? { changedAnswer } : {}) },
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function reply(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  res.end(text);
}
