import type { ToolConfigBuilder } from "../lab";
import { section, toolBin } from "./sections";

interface GitHubSection {
  token: string;
  apiUrl: string;
  repository: string;
  repoDir: string;
  deployTag: string;
}

/** sock-check's policy for the GitHub sim's acme/shop: one approval, a green build and a SHOP ticket per change. */
export const sockCheckConfig: ToolConfigBuilder = {
  tool: "sock-check",
  build(sections) {
    const github = section<GitHubSection>(sections, "github");
    if (!github) return undefined;
    return {
      github: { repository: github.repository, apiUrl: github.apiUrl, token: github.token },
      checks: { required: ["build"] },
      ticket: { pattern: "SHOP-\\d+" },
    };
  },
  tryCommand: (configFile, sections) =>
    `node ${toolBin("sock-check")} --config ${configFile} check -C ${section<GitHubSection>(sections, "github")?.repoDir ?? "."}`,
};
