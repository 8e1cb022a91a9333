import type { policySchema } from "../../../sock-check/src/policy";
import type { ToolConfigBuilder } from "../lab";
import { type ConfigInput, toolBin } from "./sections";

/** Annotated on build() so a key the tool's schema does not have is an excess-property error. */
type PolicyInput = ConfigInput<typeof policySchema>;

/** sock-check's policy for the GitHub sim's acme/shop: one approval, a green build and a SHOP ticket per change. */
export const sockCheckConfig: ToolConfigBuilder<PolicyInput> = {
  tool: "sock-check",
  build({ github }): PolicyInput | undefined {
    if (!github) return undefined;
    return {
      github: { repository: github.repository, apiUrl: github.apiUrl, token: github.token },
      checks: { required: ["build"] },
      ticket: { pattern: "SHOP-\\d+" },
    };
  },
  tryCommand: (configFile, { github }) => `node ${toolBin("sock-check")} --config ${configFile} check -C ${github?.repoDir ?? "."}`,
};
