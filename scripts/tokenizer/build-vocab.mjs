// Builds the BPE vocabularies Keel ships (src/Keel.Core/Tokenization/Data/*.kbpe) from the npm
// package js-tiktoken, and checks them against the npm package tiktoken (the WASM build of
// OpenAI's Rust tiktoken).
//
//   cd scripts/tokenizer && npm ci && node build-vocab.mjs
//
// Output format (.kbpe, "Keel BPE"), documented in src/Keel.Core/Tokenization/Data/README.md:
// a Brotli stream whose decompressed bytes are, little-endian,
//   "KBPE"  u8 version=1  u8 nameLength  name (ASCII)  u32 tokenCount  u32 totalTokenBytes
//   u8[tokenCount] token lengths in rank order
//   the token bytes, concatenated in rank order
// Rank r is token id r; the ranks of both vocabularies are contiguous from 0 (checked below).
import { writeFileSync, readFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import zlib from "node:zlib";
import o200k from "js-tiktoken/ranks/o200k_base";
import cl100k from "js-tiktoken/ranks/cl100k_base";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, "..", "..", "src", "Keel.Core", "Tokenization", "Data");
const require = createRequire(import.meta.url);

// js-tiktoken's bpe_ranks: lines of "<marker> <first rank> <base64 token> <base64 token> ...",
// consecutive tokens taking consecutive ranks.
function parseRanks(bpeRanks) {
  const tokens = [];
  for (const line of bpeRanks.split("\n")) {
    if (!line) continue;
    const fields = line.split(" ");
    const first = Number.parseInt(fields[1], 10);
    for (let i = 2; i < fields.length; i++) tokens[first + i - 2] = Buffer.from(fields[i], "base64");
  }
  for (let r = 0; r < tokens.length; r++) {
    if (!tokens[r]) throw new Error(`rank ${r} is missing: the format needs contiguous ranks`);
    if (tokens[r].length === 0 || tokens[r].length > 255) throw new Error(`rank ${r} has length ${tokens[r].length}`);
  }
  return tokens;
}

function build(name, ranks) {
  const tokens = parseRanks(ranks.bpe_ranks);

  // The reference implementation (tiktoken's WASM build) must carry the same vocabulary.
  const reference = JSON.parse(readFileSync(require.resolve(`tiktoken/encoders/${name}.json`), "utf8"));
  if (reference.bpe_ranks !== ranks.bpe_ranks) throw new Error(`${name}: js-tiktoken and tiktoken ranks differ`);

  const seen = new Set();
  for (const t of tokens) {
    const key = t.toString("latin1");
    if (seen.has(key)) throw new Error(`${name}: duplicate token`);
    seen.add(key);
  }
  for (let b = 0; b < 256; b++) {
    if (!seen.has(String.fromCharCode(b))) throw new Error(`${name}: byte ${b} has no token`);
  }

  const total = tokens.reduce((n, t) => n + t.length, 0);
  const nameBytes = Buffer.from(name, "ascii");
  const header = Buffer.alloc(4 + 1 + 1 + nameBytes.length + 4 + 4);
  let o = header.write("KBPE", 0, "ascii");
  o = header.writeUInt8(1, o);
  o = header.writeUInt8(nameBytes.length, o);
  o += nameBytes.copy(header, o);
  o = header.writeUInt32LE(tokens.length, o);
  header.writeUInt32LE(total, o);
  const raw = Buffer.concat([header, Buffer.from(tokens.map((t) => t.length)), ...tokens]);
  const compressed = zlib.brotliCompressSync(raw, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
      [zlib.constants.BROTLI_PARAM_LGWIN]: 24,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
    },
  });
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, `${name}.kbpe`), compressed);
  console.log(`${name}: ${tokens.length} tokens, ${total} token bytes, ${raw.length} bytes raw, ${compressed.length} bytes shipped`);
  console.log(`  pattern: ${ranks.pat_str}`);
}

build("o200k_base", o200k);
build("cl100k_base", cl100k);
