"""OpsPilot's MCP server: CoreClient as typed tools for the Copilot and for any MCP client."""
