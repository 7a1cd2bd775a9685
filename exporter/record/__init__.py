"""The hot path: :class:`~.recorder.LLMMetrics` and what it is made of: the per-label-set
recordings and price rows (:mod:`.recordings`, :mod:`.rows`), value checks
(:mod:`.validation`), the timed call (:mod:`.call`), label context (:mod:`.context`),
SDK usage objects (:mod:`.usage`), exception classification (:mod:`.classify`) and the
recent-requests ring (:mod:`.recent`)."""
