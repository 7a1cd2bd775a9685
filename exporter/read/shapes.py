"""Every read route, registered: the native shapes (:mod:`.views`) and each home-grown
backend's documented shapes over the same questions (:mod:`.tier_views`,
:mod:`.provider_views`). Import ``ROUTES`` from here: importing this module is what
registers them all."""

from __future__ import annotations

from . import provider_views, tier_views, views

ROUTES = views.ROUTES
update = tier_views.update

__all__ = ["ROUTES", "provider_views", "update", "views"]
