// A bin's lazily loaded chunk (scripts/build.mjs, package.json's opsguard.chunks): its code sits brotli-compressed
// in a comment inside `source`, which V8 skips at start like any comment, and is compiled here on first import.
// It runs as a CommonJS module body that takes the modules it shares with the bin (core's error classes, for
// one) from `host`, so an `instanceof` across the two holds.
import { compileFunction } from "node:vm";
import { brotliDecompressSync } from "node:zlib";

/** The chunk's exports. `source` is the function whose body is the chunk's comment; `name` names it in stacks. */
export function loadChunk(source, host, name) {
  const text = source.toString();
  const code = brotliDecompressSync(Buffer.from(text.slice(text.indexOf("/*") + 2, text.lastIndexOf("*/")), "base64")).toString();
  const module = { exports: {} };
  const run = compileFunction(code, ["module", "exports", "require", "__filename", "__dirname", "__opsguardHost"], { filename: name });
  run(module, module.exports, require, __filename, __dirname, host);
  return module.exports;
}

/** A namespace the bin shares, as the chunk's `require` of it expects: an ES module's (live bindings kept). */
export function hostModule(namespace) {
  return Object.defineProperties({}, { ...Object.getOwnPropertyDescriptors(namespace), __esModule: { value: true } });
}
