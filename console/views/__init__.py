"""What each page shows, built from components and bound to the page's state."""
