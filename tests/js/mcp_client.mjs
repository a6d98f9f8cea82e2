// Drives the official MCP TypeScript SDK (`Client` over `StreamableHTTPClientTransport`)
// against a Hubbub server's /mcp, for tests/mcp/test_js_client.py. Config is JSON on
// argv[2] (or stdin):
//   {"url": "http://127.0.0.1:PORT" (the server's origin), "token": "..." (optional),
//    "calls": [{"name": "get_me", "arguments": {}}, ...] (tools to call, in order),
//    "timeout_ms": 15000}
// It prints one JSON line per thing that happened and exits when it is done:
//   {"connected": {"protocol_version", "server", "session"}}  {"tools": [names]}
//   {"result": {"name", "isError", "content", "structuredContent"}} (one per call)
//   {"connect_error": {"name", "code", "message", "status", "www_authenticate"}}
//   {"error": {...}}  {"done": true}
// A refused connection (no token, a bad one) is an outcome, not a failure: exit code 0.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const readStdin = async () => {
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  return text;
};

const config = JSON.parse(process.argv[2] ?? (await readStdin()));
const timeoutMs = config.timeout_ms ?? 15000;
const emit = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const describe = (err) => ({
  name: err?.name ?? null,
  code: err?.code ?? null,
  message: String(err?.message ?? err),
});

// A safety net so a stuck client never outlives its test.
const timer = setTimeout(() => {
  emit({ error: { message: "timeout" } });
  process.exit(1);
}, timeoutMs);

// The last HTTP refusal the server sent, as the SDK's error does not carry its headers.
let refusal = null;
const recordingFetch = async (url, init) => {
  const response = await fetch(url, init);
  if (response.status === 401 || response.status === 403) {
    const wwwAuthenticate = response.headers.get("www-authenticate");
    refusal = { status: response.status, www_authenticate: wwwAuthenticate };
  }
  return response;
};

const headers = config.token === undefined ? {} : { Authorization: `Bearer ${config.token}` };
const transport = new StreamableHTTPClientTransport(new URL("/mcp", config.url), {
  requestInit: { headers },
  fetch: recordingFetch,
});
const client = new Client({ name: "hubbub-js-test", version: "1.0.0" }, { capabilities: {} });
const options = { timeout: timeoutMs };

const finish = async (code, line) => {
  if (line) emit(line);
  try {
    // DELETE the session (the server may answer 405), then drop the streams.
    await transport.terminateSession();
  } catch {
    // the outcome was already printed
  }
  await client.close().catch(() => {});
  clearTimeout(timer);
  process.exitCode = code;
};

const run = async () => {
  try {
    await client.connect(transport, options);
  } catch (err) {
    const { status = null, www_authenticate = null } = refusal ?? {};
    return finish(0, { connect_error: { ...describe(err), status, www_authenticate } });
  }
  try {
    emit({
      connected: {
        protocol_version: transport.protocolVersion ?? null,
        server: client.getServerVersion() ?? null,
        session: transport.sessionId ?? null,
      },
    });
    const { tools } = await client.listTools(undefined, options);
    emit({ tools: tools.map((tool) => tool.name) });
    for (const { name, arguments: args = {} } of config.calls ?? []) {
      const result = await client.callTool({ name, arguments: args }, undefined, options);
      const { isError = false, content = [], structuredContent = null } = result;
      emit({ result: { name, isError, content, structuredContent } });
    }
    return finish(0, { done: true });
  } catch (err) {
    return finish(1, { error: describe(err) });
  }
};

await run();
