import { once } from "node:events";
import { createWriteStream, type WriteStream } from "node:fs";
import { IoError } from "@opsguard/core";

const FLUSH_AT = 256 * 1024;

/**
 * Buffered output to stdout or a file: lines are joined into big writes, and the caller awaits
 * backpressure only when a write was needed. reopen() (on SIGHUP) lets logrotate move the file.
 */
export class Output {
  private parts: string[] = [];
  private size = 0;
  private stream: NodeJS.WritableStream;

  constructor(private readonly path: string | undefined) {
    this.stream = path === undefined ? process.stdout : openFile(path);
  }

  /** Queues one line (without its newline). Returns a promise only when the caller should wait. */
  line(text: string): Promise<void> | undefined {
    this.parts.push(text);
    this.size += text.length + 1;
    return this.size >= FLUSH_AT ? this.flush() : undefined;
  }

  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const data = `${this.parts.join("\n")}\n`;
    this.parts = [];
    this.size = 0;
    if (!this.stream.write(data)) await once(this.stream, "drain");
  }

  async reopen(): Promise<void> {
    if (this.path === undefined) return;
    await this.flush();
    const old = this.stream as WriteStream;
    this.stream = openFile(this.path);
    old.end();
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.path !== undefined) {
      const stream = this.stream as WriteStream;
      await new Promise<void>((resolve, reject) => {
        stream.end((error?: Error | null) => (error ? reject(new IoError(`cannot write ${this.path}: ${error.message}`)) : resolve()));
      });
    }
  }
}

function openFile(path: string): WriteStream {
  const stream = createWriteStream(path, { flags: "a" });
  stream.on("error", (error) => {
    process.stderr.write(`auditd-parse: cannot write ${path}: ${error.message}\n`);
    process.exit(74);
  });
  return stream;
}
