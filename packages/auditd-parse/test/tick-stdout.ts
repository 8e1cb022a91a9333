import { testIO } from "@opsguard/core/iostreams";

/**
 * A run's stdout as a file or /dev/null is (Node's SyncWriteStream): the bytes taken at once, each write's copy
 * pushed to `written`, the callback on the next tick. Output's tests of the buffers it takes back.
 */
export function tickStdout(written: Buffer[]) {
  const io = testIO().io;
  return Object.assign(Object.create(io.stdout) as typeof io.stdout, {
    writeBytes(data: Uint8Array, done?: (error?: Error | null) => void) {
      written.push(Buffer.from(data));
      process.nextTick(() => done?.(null));
      return true;
    },
  });
}
