import type { AuthkeysConfig } from "./config";
import { loadLoginConfig } from "./login-config";
import { warmUpLogin } from "./warm-up-login";

/**
 * The full bundle's warm-up (see warm-up-login.ts): with the config when it loads, else with one made
 * up here. Deriving it from the config keeps zod out of a warm-up whose config install validated, as a
 * login with a stored validation result never evaluates zod (the code cache would carry it for nothing).
 */
export async function warmUp(configPath: string | undefined): Promise<void> {
  const configured = await loadLoginConfig(configPath).catch(() => undefined);
  await warmUpLogin(configured ?? (await madeUpConfig()), configured !== undefined);
}

async function madeUpConfig(): Promise<AuthkeysConfig> {
  const { authkeysConfigSchema } = await import("./config");
  return authkeysConfigSchema.parse({
    ldap: { urls: ["ldap://127.0.0.1:1"], baseDn: "dc=warm-up" },
    syslog: false,
    cache: { enabled: false },
  });
}
