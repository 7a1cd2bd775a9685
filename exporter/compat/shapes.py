"""Every read route, registered: the native shapes (:mod:`.views`) and each home-grown
backend's documented shapes over the same questions (:mod:`.tier_views`). Import
``ROUTES`` from here: importing this module is what registers them all."""

from __future__ import annotations

from . import tier_views, views

ROUTES = views.ROUTES
update = tier_views.update

__all__ = ["ROUTES", "update"]
