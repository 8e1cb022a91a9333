export { Assembler, type AssemblerOptions, type AssemblerStats, type EventBuilder, type PendingEvent } from "./assemble";
export { archName, errnoName, syscallName } from "./decode";
export { EventJson } from "./event-json";
export { IdNames, type IdSources } from "./ids";
export type { AuditEvent, FieldValue, InterpreterOptions, OutputRecord } from "./interpret";
export { Interpreter, OpenEvent } from "./interpret";
export { AuditParser, type ParserOptions, parseText } from "./parser";
export { type AuditRecord, parseRecord } from "./record";
export { decodeSockaddr, type Sockaddr } from "./sockaddr";
