export * from "./cli";
export * from "./errors";
export * from "./exit";
export * from "./log";
export * from "./secret";
export * from "./tty";
