// Drives Keel with the official `openai` npm package: chat, streaming, tool calls, embeddings.
// Usage: node compat.mjs BASE_URL CHAT_MODEL EMBED_MODEL
// Prints one JSON line of results; exits non-zero on the first failed expectation.
import OpenAI from "openai";

const [baseURL, chatModel, embedModel] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: process.env.KEEL_API_KEY ?? "unused", maxRetries: 0 });
const results = {};

function expect(condition, message) {
  if (!condition) {
    console.error(`FAIL: ${message}`);
    process.exit(1);
  }
}

const chat = await client.chat.completions.create({
  model: chatModel,
  messages: [{ role: "user", content: "hello from node" }],
});
expect(chat.choices[0].message.content.includes("hello from node"), `chat content: ${JSON.stringify(chat)}`);
results.chat = chat.choices[0].message.content;

const stream = await client.chat.completions.create({
  model: chatModel,
  messages: [{ role: "user", content: "stream this please" }],
  stream: true,
  stream_options: { include_usage: true },
});
let text = "";
let chunks = 0;
let usage = null;
for await (const chunk of stream) {
  chunks++;
  text += chunk.choices[0]?.delta?.content ?? "";
  if (chunk.usage) usage = chunk.usage;
}
expect(text.includes("stream this please"), `stream text: ${text}`);
expect(chunks > 2, `stream chunks: ${chunks}`);
expect(usage && usage.total_tokens > 0, `stream usage: ${JSON.stringify(usage)}`);
results.stream = { text, chunks, usage };

const tools = [{
  type: "function",
  function: { name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
}];
const toolChat = await client.chat.completions.create({
  model: chatModel,
  messages: [{ role: "user", content: "weather in Paris?" }],
  tools,
  tool_choice: "auto",
});
const call = toolChat.choices[0].message.tool_calls?.[0];
expect(call && call.function.name === "get_weather", `tool call: ${JSON.stringify(toolChat)}`);
expect(JSON.parse(call.function.arguments).city === "Paris", `tool arguments: ${call.function.arguments}`);
const followUp = await client.chat.completions.create({
  model: chatModel,
  messages: [
    { role: "user", content: "weather in Paris?" },
    toolChat.choices[0].message,
    { role: "tool", tool_call_id: call.id, content: "sunny, 21C" },
  ],
  tools,
});
expect(typeof followUp.choices[0].message.content === "string", `follow-up: ${JSON.stringify(followUp)}`);
results.tools = { name: call.function.name, arguments: call.function.arguments };

// The SDK asks for base64 by default and decodes it: this checks both encodings' plumbing.
const embedding = await client.embeddings.create({ model: embedModel, input: ["alpha", "beta"] });
expect(embedding.data.length === 2 && embedding.data[0].embedding.length > 0, `embeddings: ${JSON.stringify(embedding).slice(0, 300)}`);
const floats = await client.embeddings.create({ model: embedModel, input: "alpha", encoding_format: "float" });
expect(floats.data[0].embedding.length === embedding.data[0].embedding.length, "float and base64 dimensions differ");
results.embeddings = { dimensions: embedding.data[0].embedding.length };

try {
  await client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] });
  expect(false, "unknown model did not fail");
} catch (err) {
  expect(err.status === 404 && err.code === "model_not_found", `unknown model error: ${err}`);
}

console.log(JSON.stringify(results));
