import { config } from "zod";

// authkeys is a one-shot process that parses its config once: zod's JIT would build a parser with
// new Function on that first parse, costing more than it saves. Imported first, before any schema exists.
config({ jitless: true });
