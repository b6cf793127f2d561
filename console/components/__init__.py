"""Reusable pieces of the console's UI: the shared layout, navigation, panels and badges."""
