"""Provider usage conversion and exception classification."""

from __future__ import annotations

import pytest

from exporter import classify_error, from_anthropic, from_openai


def test_anthropic_usage_adds_cache_tokens_back() -> None:
    usage = {"input_tokens": 100, "output_tokens": 50, "cache_read_input_tokens": 2000,
             "cache_creation_input_tokens": 300}
    assert from_anthropic(usage) == {"input_tokens": 2400, "output_tokens": 50,
                                     "cache_read_tokens": 2000, "cache_write_tokens": 300}


def test_openai_chat_and_responses_usage() -> None:
    chat = {"prompt_tokens": 1200, "completion_tokens": 350,
            "prompt_tokens_details": {"cached_tokens": 1000},
            "completion_tokens_details": {"reasoning_tokens": 200}}
    assert from_openai(chat) == {"input_tokens": 1200, "output_tokens": 350,
                                 "cache_read_tokens": 1000, "reasoning_tokens": 200}

    class Details:
        cached_tokens = 10

    class Responses:
        input_tokens, output_tokens = 40, 5
        input_tokens_details = Details()
        output_tokens_details = None

    assert from_openai(Responses()) == {"input_tokens": 40, "output_tokens": 5,
                                        "cache_read_tokens": 10, "reasoning_tokens": 0}


class APITimeoutError(Exception):
    pass


class InternalServerError(Exception):
    pass


class HTTPError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.response = type("Response", (), {"status_code": code})()


@pytest.mark.parametrize("exc,expected", [
    (TimeoutError(), "timeout"),
    (APITimeoutError(), "timeout"),
    (InternalServerError(), "server_error"),
    (HTTPError(429), "rate_limit"),
    (HTTPError(503), "server_error"),
    (HTTPError(401), "client_error"),
    (ValueError("x"), "other"),
])
def test_exceptions_map_to_bounded_error_types(exc: BaseException, expected: str) -> None:
    assert classify_error(exc) == expected
