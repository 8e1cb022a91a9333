export * from "./blackhole";
export * from "./ensure";
export * from "./process";
export * from "./slapd";
export * from "./sshkeys";
export * from "./tls";
