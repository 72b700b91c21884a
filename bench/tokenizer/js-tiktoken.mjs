// Times js-tiktoken on Keel's tokenizer corpus, the same text bench/Keel.Benchmarks'
// TokenizerBenchmarks tokenizes, and prints the median MB/s (10^6 UTF-8 bytes per second).
//
//   cd bench/tokenizer && npm ci && node js-tiktoken.mjs [runs=15]
//
// Corpus: the cases marked "corpus" in tests/Keel.Core.Tests/Tokenization/fixtures.json joined with
// blank lines, encoded in one call; Messages: one call per case. Special tokens are encoded as text
// (encode(text, [], [])), as Keel does.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Tiktoken } from "js-tiktoken/lite";
import o200k from "js-tiktoken/ranks/o200k_base";
import cl100k from "js-tiktoken/ranks/cl100k_base";

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = JSON.parse(readFileSync(join(here, "..", "..", "tests", "Keel.Core.Tests", "Tokenization", "fixtures.json"), "utf8"));
const messages = fixtures.cases.filter((c) => c.corpus).map((c) => c.text);
const corpus = messages.join("\n\n");
const runs = Number(process.argv[2] ?? 15);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const benchmarks = {
  EncodeCorpus: { bytes: Buffer.byteLength(corpus), run: (enc) => enc.encode(corpus, [], []).length },
  EncodeMessages: {
    bytes: messages.reduce((n, m) => n + Buffer.byteLength(m), 0),
    run: (enc) => messages.reduce((n, m) => n + enc.encode(m, [], []).length, 0),
  },
};

console.log(`js-tiktoken ${JSON.parse(readFileSync(join(here, "node_modules", "js-tiktoken", "package.json"), "utf8")).version}, node ${process.version}, ${runs} runs each`);
for (const [name, ranks] of [["o200k_base", o200k], ["cl100k_base", cl100k]]) {
  const enc = new Tiktoken(ranks);
  for (const [benchmark, { bytes, run }] of Object.entries(benchmarks)) {
    // Warm up until the JIT settles (at least 1 s), then time each run.
    const warmupEnd = performance.now() + 1000;
    let tokens = 0;
    while (performance.now() < warmupEnd) tokens = run(enc);
    const seconds = [];
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      run(enc);
      seconds.push((performance.now() - start) / 1000);
    }
    const mbps = (bytes / median(seconds)) / 1e6;
    console.log(`${name.padEnd(12)} ${benchmark.padEnd(15)} ${bytes} bytes  ${tokens} tokens  median ${(median(seconds) * 1000).toFixed(2)} ms  ${mbps.toFixed(2)} MB/s`);
  }
}
