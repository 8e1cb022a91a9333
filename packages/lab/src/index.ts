export * from "./blackhole";
export * from "./ensure";
export * from "./process";
export * from "./sim/slack";
export * from "./slapd";
export * from "./sshkeys";
export * from "./tls";
