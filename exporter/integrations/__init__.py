"""Integrations with tools that already see every LLM call: one import, no code at the
call sites (:mod:`.litellm`: LiteLLM's SDK and proxy)."""
