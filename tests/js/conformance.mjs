// The official TypeScript SDK client against `aiops serve-mcp`: lists the tools, then calls every
// tool with valid and invalid arguments. The SDK validates each result's structuredContent
// against the tool's outputSchema (Ajv) and throws when it does not match, so a valid call must
// come back validated and an error must come back as an isError result with its message.
//
// Usage: node conformance.mjs <cases.json>, where the JSON holds
//   {"url": ".../mcp", "headers": {...}, "tools": [names], "valid": [[tool, args]],
//    "invalid": [[tool, args, text the message must contain]]}
// Prints one JSON report line; exits 1 on the first failed expectation.
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
const client = new Client({ name: "aiops-conformance", version: "1.0.0" });
await client.connect(
  new StreamableHTTPClientTransport(new URL(cases.url), { requestInit: { headers: cases.headers ?? {} } }),
);

const { tools } = await client.listTools();
assert.deepEqual(tools.map((t) => t.name).sort(), [...cases.tools].sort(), "the listed tools");
for (const tool of tools) {
  assert.ok(tool.outputSchema, `${tool.name} has an output schema, so the SDK validates its results`);
}

const report = { valid: {}, invalid: {} };
for (const [name, args] of cases.valid) {
  const result = await client.callTool({ name, arguments: args });
  assert.notEqual(result.isError, true, `${name} ${JSON.stringify(args)}: ${JSON.stringify(result.content)}`);
  assert.equal(typeof result.structuredContent, "object", `${name}: structured content`);
  report.valid[name] = result.structuredContent;
}
for (const [name, args, message] of cases.invalid) {
  const result = await client.callTool({ name, arguments: args });
  assert.equal(result.isError, true, `${name} ${JSON.stringify(args)} must be an isError result`);
  assert.equal(result.structuredContent, undefined, `${name}: no structured content in an error`);
  const text = result.content.filter((c) => c.type === "text").map((c) => c.text).join("\n");
  assert.ok(text.includes(message), `${name} ${JSON.stringify(args)}: ${JSON.stringify(text)} lacks ${message}`);
  report.invalid[`${name} ${JSON.stringify(args)}`] = text;
}
await client.close();
console.log(JSON.stringify(report));
