"""A local OpenAI-compatible HTTP server with fixed answers, for driving the official
`openai` client (and the instrumentations that wrap it) without a network.

Usage: openai_stub.py [PORT]   (or OPENAI_STUB_PORT; 0 or nothing picks a free port)
Prints one JSON line {"port": N, "base_url": "http://127.0.0.1:N/v1"} once it listens,
then serves until killed. Python standard library only.

POST /v1/chat/completions answers, by the request:
- `stream: true`: a streamed answer (Server-Sent Events, chunked): a role chunk, the
  text in pieces, a chunk with finish_reason "stop", then, when
  `stream_options.include_usage` is set, a chunk with no choices and the usage, then
  `data: [DONE]`;
- `tools` given and no `tool` message yet: a tool call answer (finish_reason
  "tool_calls", one `get_weather` call with arguments {"city": "Paris"});
- otherwise: a plain answer.
Every answer has model `gpt-4o-2024-08-06` and the fixed usage in `USAGE` below
(prompt_tokens counts the cached and cache-write tokens, completion_tokens the
reasoning tokens, as OpenAI counts them; `prompt_tokens_details.cache_write_tokens` is
the newer field that the current `openai` client reads). Anything else answers 404; a body that is not a JSON object, 400."""

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "gpt-4o-2024-08-06"
CREATED = 1700000000
SYSTEM_FINGERPRINT = "fp_stub_0001"
TOOL_CALL_ID = "call_weather_0001"
TOOL_ARGUMENTS = '{"city": "Paris"}'
PLAIN_TEXT = "It is 18 degrees and sunny in Paris."
STREAM_PIECES = ["Have ", "a ", "nice ", "day ", "in ", "Paris!"]
# The most a request body may be; larger ones are refused before they are read.
MAX_BODY = 1 << 20

# The usage of each kind of answer: distinct, non-zero values so that sums are checkable.
USAGE = {
    "tool_call": {"prompt": 52, "completion": 17, "cached": 16, "cache_write": 4, "reasoning": 5},
    "plain": {"prompt": 81, "completion": 23, "cached": 64, "cache_write": 6, "reasoning": 8},
    "stream": {"prompt": 30, "completion": 9, "cached": 8, "cache_write": 3, "reasoning": 2},
}
RESPONSE_IDS = {
    "tool_call": "chatcmpl-stub-tool",
    "plain": "chatcmpl-stub-plain",
    "stream": "chatcmpl-stub-stream",
}


def usage_json(kind):
    """The `usage` object of an answer of this kind, as OpenAI writes it."""
    u = USAGE[kind]
    return {
        "prompt_tokens": u["prompt"],
        "completion_tokens": u["completion"],
        "total_tokens": u["prompt"] + u["completion"],
        "prompt_tokens_details": {
            "cached_tokens": u["cached"],
            "cache_write_tokens": u["cache_write"],
            "audio_tokens": 0,
        },
        "completion_tokens_details": {
            "reasoning_tokens": u["reasoning"],
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def answer_kind(request):
    """Which answer a chat completion request gets: "stream", "tool_call" or "plain"."""
    if request.get("stream") is True:
        return "stream"
    messages = request.get("messages")
    has_tool_result = isinstance(messages, list) and any(
        isinstance(m, dict) and m.get("role") == "tool" for m in messages
    )
    if request.get("tools") and not has_tool_result:
        return "tool_call"
    return "plain"


def completion_json(kind):
    """The whole (not streamed) chat completion of this kind."""
    if kind == "tool_call":
        message = {
            "role": "assistant",
            "content": None,
            "refusal": None,
            "tool_calls": [{
                "id": TOOL_CALL_ID,
                "type": "function",
                "function": {"name": "get_weather", "arguments": TOOL_ARGUMENTS},
            }],
        }
        finish = "tool_calls"
    else:
        message = {"role": "assistant", "content": PLAIN_TEXT, "refusal": None}
        finish = "stop"
    return {
        "id": RESPONSE_IDS[kind],
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "service_tier": "default",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage_json(kind),
    }


def stream_events(include_usage):
    """The JSON objects of a streamed answer, in order (without the final [DONE])."""
    def chunk(delta, finish=None):
        return {
            "id": RESPONSE_IDS["stream"],
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": MODEL,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "service_tier": "default",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            # OpenAI sends "usage": null on every chunk when include_usage is set.
            **({"usage": None} if include_usage else {}),
        }

    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [chunk({"content": piece}) for piece in STREAM_PIECES]
    events.append(chunk({}, "stop"))
    if include_usage:
        events.append({
            "id": RESPONSE_IDS["stream"],
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": MODEL,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "service_tier": "default",
            "choices": [],
            "usage": usage_json("stream"),
        })
    return events


class Handler(BaseHTTPRequestHandler):
    """Answers the chat completions endpoint; everything else is 404."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", "req_stub")
        self.end_headers()
        self.wfile.write(data)

    def send_error_json(self, status, message):
        self.send_json(status, {"error": {"message": message, "type": "invalid_request_error",
                                          "param": None, "code": None}})

    def do_GET(self):  # noqa: N802 - the base class's name
        self.send_error_json(404, "not found")

    def do_POST(self):  # noqa: N802 - the base class's name
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self.send_error_json(400, "bad Content-Length")
            return
        raw = self.rfile.read(length)
        if self.path.split("?", 1)[0] != "/v1/chat/completions":
            self.send_error_json(404, "not found")
            return
        try:
            request = json.loads(raw)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            self.send_error_json(400, "the body must be a JSON object")
            return
        kind = answer_kind(request)
        if kind != "stream":
            self.send_json(200, completion_json(kind))
            return
        options = request.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", "req_stub")
        self.end_headers()
        for event in stream_events(include_usage):
            self.write_chunk(f"data: {json.dumps(event)}\n\n".encode())
        self.write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def write_chunk(self, data):
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def start(port=0, host="127.0.0.1"):
    """Starts the server in a daemon thread; returns it (`server.server_address[1]` is
    the port, `server.shutdown()` stops it)."""
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    arg = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("OPENAI_STUB_PORT", "0")
    server = ThreadingHTTPServer(("127.0.0.1", int(arg)), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    print(json.dumps({"port": port, "base_url": f"http://127.0.0.1:{port}/v1"}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
