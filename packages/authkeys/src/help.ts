/** Shown by --help after the options; the README says the same. */
export const HELP_AFTER = `Install (as root): authkeys install — copies it to /usr/local/lib/opsguard/authkeys/ (root-owned, as sshd
requires) with a launcher, the small login bundle, their V8 code caches and the validated config (re-run it
after editing the config, or every login loads the full bundle and validates it again), creates the
config's cache.dir for --run-as (parents it creates 0755), and prints the sshd_config lines ("--" keeps a
user named like an option a name), the principals lines first (OpenSSH < 9.4 ignores them after the
AuthorizedKeysCommand and then admits any certificate naming the login name; keep this order):
  AuthorizedPrincipalsCommand /usr/local/lib/opsguard/authkeys/authkeys principals -- %u %i %s %T
  AuthorizedPrincipalsCommandUser authkeys
  AuthorizedKeysCommand /usr/local/lib/opsguard/authkeys/authkeys lookup -- %u %f
  AuthorizedKeysCommandUser authkeys
sshd runs the key lookup once per offered key. For SSH certificates (TrustedUserCAKeys) "principals"
prints who may log in as %u by the same rules (key id, serial, type are only logged), each line behind the
admitting group's keyOptions, which sshd applies to the certificate login. sshd-config names the
installed launcher it is run as (after install --prefix /opt/x: /opt/x/authkeys), else --path. It writes --config
as sshd reads it (% as %%, quoted if needed); a relative --path, or one with spaces or quotes: exit 64.

It prints only valid authorized_keys lines and exits 0 — with no lines for an unknown user (the entry's
uid must equal the name byte for byte), a user outside allowedGroups or a user without keys. A group's
keyOptions hold: a key's own options that would undo them are dropped with a warning. When no LDAP
server answers, or the servers refuse our bind, it serves the keys cached at the last successful lookup
if they are younger than cache.maxStaleSeconds, else it fails (non-zero, no output); while the cache
directory is not writable it serves none (exit 77: a revocation may have gone unrecorded). A revocation
that cannot delete the cached file empties it in place (a removed key: rewritten in place). Every login
ends within agent.timeoutMs + ldap.deadlineMs + 2 s of its process start (a starved process: the first
moment it runs after that): the fresh cached keys under the same rules, else exit 75, never more waiting. A server that
failed is skipped for cache.deadServerSeconds, then probed again, one such server per lookup; when every
server is skipped, the first in ldap.urls is still probed with a 300 ms connect budget. Servers
start in order, each 100 ms after the one before (at once when it failed), so dead servers' waits overlap
(sshd pads a run that waited T up to 2T); a server that rejects the bind is passed over while another
may still accept it (exit 78 only when none does). One left without its full time (cut off by the deadline less
than 300 ms in, slower than a server that answered, or timed out while this process stalled) is in doubt,
never skipped: for that long, runs try it in its place in ldap.urls with a 300 ms connect budget. One line per lookup goes to syslog
(authpriv) through logger(1) with this PID: user, result, keys, source, ms; stderr if that fails.

Config (--config, or $AUTHKEYS_CONFIG, else /etc/opsguard/authkeys.{json,yaml,yml} only; the file and its
directories must be root-owned and not group/other-writable, else exit 78):
  ldap.urls              servers tried in order, 100 ms apart, e.g. [ldaps://ldap1.example.org, ldaps://ldap2.example.org]
  ldap.baseDn            search base
  ldap.bindDn            bind DN (omit both for an anonymous bind)
  ldap.bindPassword      "file:/etc/opsguard/authkeys.pw" or "env:NAME"
  ldap.startTls          upgrade ldap:// with StartTLS (default false)
  ldap.allowPlaintext    send the bind password over ldap:// without StartTLS (default false:
                         refused, exit 78, except to 127.0.0.0/8, ::1, localhost)
  ldap.caFile            CA certificate(s) to trust
  ldap.connectTimeoutMs  per server (default 1000)
  ldap.timeoutMs         per operation (default 1500)
  ldap.deadlineMs        everything, failover included (default 2500)
  userBase               where users live (default ldap.baseDn)
  userFilter             default (&(objectClass=posixAccount)(uid={user}))
  userNameAttribute      must equal the login name exactly (default uid)
  keyAttribute           default sshPublicKey
  allowedGroups          group DNs, or {dn, keyOptions} to prepend e.g. from="10.0.0.0/8",no-agent-forwarding
                         (no "#" if certificates are used: sshd cuts principal lines there, principals exits 78)
  keyTypes               default ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa
  minRsaBits             default 2048
  cache.enabled          default true
  cache.dir              default /var/cache/opsguard/authkeys (owner: the command user, mode 0700)
  cache.maxStaleSeconds  default 259200 (3 days)
  cache.deadServerSeconds  skip a server that failed this long (default 30; 0: never)
  syslog                 {facility: authpriv} (default) or false for stderr only
  syslog.facility        default authpriv (also when only syslog.socket is set)
  syslog.socket          the local syslog socket (default /dev/log)
  ldap.srv               instead of ldap.urls: servers from DNS SRV (_ldaps._tcp/_ldap._tcp) of this domain,
                         or ldap:///dc=example,dc=org; RFC 2782 order, cached for the TTL in cache.dir
  ldap.dnsServer         DNS server(s) for ldap.srv, "IP" or "IP:port" (default: /etc/resolv.conf's)
  nestedGroups           {} to admit members of groups inside allowedGroups (default off); keys:
                         maxDepth (2), match (recursive | in-chain: AD's 1.2.840.113556.1.4.1941), groupBase
  hostAccess.hostname    this host's name for the host rules (default: os.hostname())
  hostAccess.userAttribute  e.g. host: SSSD semantics (name, !name denies, *; no value: no login)
  hostAccess.rules       [{hosts: [web-*], allowedGroups: [...]}]: replaces allowedGroups on matching hosts;
                         two rules matching this host is a config error (exit 78)
  principals.loginName   "principals" prints the login name (default true)
  principals.groups      [{dn, principals: [sre, deploy]}]: members of dn get these principals
  agent.socket           unix socket of "authkeys agent" (default: no agent), e.g. /run/authkeys/agent.sock
  agent.timeoutMs        how long a login waits for the agent before looking up directly (default 1000)
  audit.filter           which entries "authkeys audit" reads as accounts (default (objectClass=posixAccount))

Agent (optional): "authkeys agent" keeps one verified LDAP connection open and answers logins on
agent.socket, so a login loads no TLS or LDAP code. Run it as the AuthorizedKeysCommandUser (systemd:
User=authkeys, RuntimeDirectory=authkeys, RuntimeDirectoryMode=0700, Restart=on-failure). Every request
is still a full lookup (fresh search, cache, revocation); on any agent problem a login looks up directly.
When its own bind is rejected it reads ldap.bindPassword again and binds once more if the password
changed; rejected still, it answers with an error (never from the cache) and the login looks up directly.
It refuses to start (exit 77) if the socket's directory is not its own or is writable by others.

Audit: "authkeys audit" reads every account (paged) and judges each stored key as a login would, plus
what one login cannot see: the same key on two accounts, keys on disabled accounts (shadowExpire passed,
a nologin shell, pwdAccountLockedTime, nsAccountLock), accounts with no key, and any value ssh2's key
parser judges differently. Only SHA256 fingerprints are printed. Exit 1 when a finding fails policy (all
but "no key"); a directory that cannot be read whole is an error (69, 65), never a clean audit.

Verify: "authkeys verify --hosts FILE --user NAME [-i KEY]" logs in to each host (ssh2; no session, no
command) after checking its host key against known_hosts: accepted, refused, unreachable, host-key-changed
or host-key-unknown per host; exit 1 unless every host accepted.

Exit 65: LDAP refused the search (userFilter, a userBase that does not exist, attribute), several
entries matched, or the server's size limit cut the answer; 66: audit's filter matched no account (an
empty audit is no pass);
70: internal error (a bug: please report it), or the installed authkeys.cjs is missing, damaged or
replaced (one line naming it: re-run authkeys install). Run doctor as the command user (sudo -u authkeys ...):
it then proves the cache directory writable and readable, and that every configured group DN exists
and is readable by the bind DN. As root, doctor also checks sshd -T (or
--sshd-config FILE): a user CA without the principals command in effect fails, and so does a command
whose file does not exist, or one that runs authkeys with another config than doctor's (the --config
authkeys takes from the line: the last one, also one after the command). A bind password logins could
not read fails its check; doctor then skips the bind, group and lookup checks and runs the rest.

Doctor also reports each server that logins remember in cache.dir/.servers.json: marked failed (FAIL:
every login skips it until the time shown) or in doubt (warn: a 300 ms probe).

Examples:
  authkeys alice                         keys of alice
  authkeys lookup alice SHA256:abc...    only the key with that fingerprint
  authkeys doctor --user alice           check the whole setup, step by step
  authkeys audit --format csv > keys.csv  key hygiene across the directory, one row per finding
  authkeys verify --hosts fleet.txt --user alice -i ~/.ssh/id_ed25519   did the rollout work on each host
  authkeys --config /etc/opsguard/authkeys.yaml agent   the resident helper (under systemd)
  authkeys principals -- alice           certificate principals that may log in as alice
  authkeys sshd-config --config /etc/opsguard/authkeys.yaml`;
