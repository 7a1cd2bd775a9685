"""Zero-code instrumentation of LLM client SDKs (``openai``, ``anthropic``).

``exporter.instrumentation.openai.instrument(metrics=llm)`` patches the SDK's resource
classes once; every client, sync or async, is then measured. The wrappers time the call,
keep ``llm_requests_in_flight``, read usage from the response (or the stream's final
usage), record time to first token for streams, and map exceptions to ``error_type``.
The caller's exception is re-raised untouched, and a failure inside our code is logged,
never raised into the call.
"""
