// kit.mjs — what every browser script shares: its settings from the
// environment, and the hand-shake on stdin / stdout with the Rust test that
// runs it (the script says a word, the test checks the hub and answers).

import { createInterface } from "node:readline";

/** A required setting from the environment. */
export const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`missing ${k}`);
  return v;
};

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

/** Waits for the test to answer `word` on stdin. */
export async function waitFor(word) {
  for (;;) {
    const { value, done } = await lines.next();
    if (done) throw new Error(`stdin closed while waiting for ${word}`);
    if (value.trim() === word) return;
  }
}

/** Tells the test a word (one line on stdout). */
export const say = (line) => console.log(line);

/** Stops reading stdin (so the script can exit). */
export const closeInput = () => lines.return?.();
