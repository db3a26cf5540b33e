"""Query: text, image and arithmetic search, categories (zero-shot and few-shot), duplicates and
their reports, and the cold-query prefetch. Reads the store; embeds queries through the models."""
