"""The read side: where numbers come from (the sidecar's counters and their in-memory
history, or Prometheus: :mod:`.sources`), the questions every read route asks
(:mod:`.queries`), one view module per answer shape (native :mod:`.views`, the tier
routing backend's :mod:`.tier_views`, the provider service's :mod:`.provider_views`),
the sidecar's read logic (:mod:`.side`) and the ``report`` command (:mod:`.report`)."""
