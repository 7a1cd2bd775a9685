"""A local HTTP server that answers like the OpenAI and Anthropic APIs: JSON and
server-sent-event streams with usage, and 429 / 500 errors on request. Used with the
real ``openai`` and ``anthropic`` packages; no network, no fake SDK objects."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FIRST_TOKEN_DELAY = 0.05
"""Seconds before the first streamed chunk, so time to first token is measurable."""

CHAT_USAGE = {"prompt_tokens": 1200, "completion_tokens": 350, "total_tokens": 1550,
              "prompt_tokens_details": {"cached_tokens": 1000},
              "completion_tokens_details": {"reasoning_tokens": 0}}
RESPONSES_USAGE = {"input_tokens": 400, "output_tokens": 120, "total_tokens": 520,
                   "input_tokens_details": {"cached_tokens": 100},
                   "output_tokens_details": {"reasoning_tokens": 80}}
#: As the Messages API reports it since the 1-hour cache (2025): the cache writes split by
#: lifetime in ``cache_creation``, priced apart (1.25x and 2x the input price).
ANTHROPIC_USAGE = {"input_tokens": 100, "output_tokens": 20, "cache_read_input_tokens": 2000,
                   "cache_creation_input_tokens": 300,
                   "cache_creation": {"ephemeral_5m_input_tokens": 100,
                                      "ephemeral_1h_input_tokens": 200},
                   "service_tier": "standard"}
DATED = {"gpt-4o": "gpt-4o-2024-08-06", "claude-sonnet-4-5": "claude-sonnet-4-5-20250929"}


class FakeLLMAPI:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # headers and body go out as separate writes: without this, Nagle and
                # delayed ACKs add 40 ms to every keep-alive response
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                api.requests.append({"path": self.path, "body": body})
                model = body.get("model", "")
                anthropic = self.path.endswith("/messages")
                forced = self.headers.get("x-fake-status")  # a test makes any model fail
                # a test makes the first N attempts of a request fail with 429: the SDKs
                # number their attempts in x-stainless-retry-count (0 the first)
                fail_first = int(self.headers.get("x-fake-fail-first", "0"))
                attempt = int(self.headers.get("x-stainless-retry-count", "0"))
                if model == "rate-limited" or forced == "429" or attempt < fail_first:
                    return self._error(429, "rate_limit_error", anthropic)
                if model == "broken":
                    return self._error(500, "api_error", anthropic)
                answered = DATED.get(model, model)
                if self.path.endswith("/chat/completions"):
                    self._chat(body, answered)
                elif self.path.endswith("/responses"):
                    self._responses(body, answered)
                elif self.path.endswith("/embeddings"):
                    self._json({"object": "list", "model": answered, "data": [
                        {"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
                        "usage": {"prompt_tokens": 8, "total_tokens": 8}})
                elif anthropic:
                    self._messages(body, answered)
                else:
                    self._error(404, "not_found_error", anthropic)

            def _json(self, payload: Any, status: int = 200) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                if status == 429:  # as OpenAI's API does; the SDKs wait this long
                    self.send_header("retry-after-ms", "10")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, kind: str, anthropic: bool) -> None:
                error = {"message": f"fake {kind}", "type": kind}
                self._json({"type": "error", "error": error} if anthropic else
                           {"error": {**error, "code": None, "param": None}}, status)

            def _sse(self, events: list[tuple[str | None, Any]]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                time.sleep(FIRST_TOKEN_DELAY)
                for name, data in events:
                    text = (f"event: {name}\n" if name else "") + \
                        f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"
                    raw = text.encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(raw), raw))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

            def _chat(self, body: dict, model: str) -> None:
                base = {"id": "chatcmpl-1", "created": 1, "model": model}
                if not body.get("stream"):
                    return self._json({**base, "object": "chat.completion", "choices": [{
                        "index": 0, "finish_reason": "stop", "logprobs": None,
                        "message": {"role": "assistant", "content": "Hello there"}}],
                        "usage": CHAT_USAGE})
                chunk = {**base, "object": "chat.completion.chunk"}
                events: list[tuple[str | None, Any]] = [
                    (None, {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant",
                                                                      "content": ""},
                                                  "finish_reason": None}]})]
                for word in ("Hello", " there"):
                    events.append((None, {**chunk, "choices": [{
                        "index": 0, "delta": {"content": word}, "finish_reason": None}]}))
                events.append((None, {**chunk, "choices": [{"index": 0, "delta": {},
                                                            "finish_reason": "stop"}]}))
                if (body.get("stream_options") or {}).get("include_usage"):
                    events.append((None, {**chunk, "choices": [], "usage": CHAT_USAGE}))
                events.append((None, "[DONE]"))
                self._sse(events)

            def _responses(self, body: dict, model: str) -> None:
                response = {"id": "resp_1", "object": "response", "created_at": 1,
                            "model": model, "status": "completed", "parallel_tool_calls": True,
                            "tool_choice": "auto", "tools": [], "output": [{
                                "type": "message", "id": "msg_1", "status": "completed",
                                "role": "assistant", "content": [{
                                    "type": "output_text", "text": "Hi", "annotations": []}]}],
                            "usage": RESPONSES_USAGE}
                if not body.get("stream"):
                    return self._json(response)
                started = {**response, "status": "in_progress", "output": [], "usage": None}
                self._sse([
                    ("response.created", {"type": "response.created", "sequence_number": 0,
                                          "response": started}),
                    ("response.output_text.delta", {
                        "type": "response.output_text.delta", "sequence_number": 1,
                        "item_id": "msg_1", "output_index": 0, "content_index": 0,
                        "delta": "Hi", "logprobs": []}),
                    ("response.completed", {"type": "response.completed", "sequence_number": 2,
                                            "response": response})])

            def _messages(self, body: dict, model: str) -> None:
                message = {"id": "msg_1", "type": "message", "role": "assistant",
                           "model": model, "content": [{"type": "text", "text": "Hi"}],
                           "stop_reason": "end_turn", "stop_sequence": None,
                           "usage": ANTHROPIC_USAGE}
                if not body.get("stream"):
                    return self._json(message)
                start = {**message, "content": [], "stop_reason": None,
                         "usage": {**ANTHROPIC_USAGE, "output_tokens": 1}}
                self._sse([
                    ("message_start", {"type": "message_start", "message": start}),
                    ("content_block_start", {"type": "content_block_start", "index": 0,
                                             "content_block": {"type": "text", "text": ""}}),
                    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                             "delta": {"type": "text_delta", "text": "Hi"}}),
                    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                    ("message_delta", {"type": "message_delta", "delta": {
                        "stop_reason": "end_turn", "stop_sequence": None},
                        "usage": {"output_tokens": ANTHROPIC_USAGE["output_tokens"]}}),
                    ("message_stop", {"type": "message_stop"})])

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that stops reading a stream early is not an error here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
