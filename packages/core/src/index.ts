export * from "./cli";
export * from "./config";
export * from "./errors";
export * from "./exit";
export * from "./http";
export * from "./log";
export * from "./secret";
export * from "./tty";
