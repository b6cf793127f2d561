"""What the console's pages load from CoreClient, as plain rows, apart from Reflex state and components."""
