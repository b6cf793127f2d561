"""One Reflex State per page. Handlers that wait on providers are background events that hold no lock while waiting."""
