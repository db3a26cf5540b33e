"""``clipsearch mcp``: an index for AI assistants, over the Model Context Protocol."""
