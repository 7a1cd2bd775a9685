"""What arrives over HTTP and becomes recorder calls: the sidecar's event contract
(:mod:`.events`) and the home-grown backends' write routes, each translated from its
documented payload (:mod:`.routes` maps path to translator)."""
