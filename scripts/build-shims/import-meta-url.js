// ESM dependencies bundled into a CommonJS bin may read import.meta.url; give them this file's URL.
export const __opsguardImportMetaUrl = require("node:url").pathToFileURL(__filename).href;
