"""Every console page; importing this package registers them."""

from console.pages import overview, settings

__all__ = ["overview", "settings"]
