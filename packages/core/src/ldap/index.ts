export * from "./client";
export * from "./config";
export * from "./dn";
export * from "./entry";
export * from "./errors";
export * from "./filter";
export * from "./options";
