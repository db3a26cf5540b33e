"""The front door: :class:`~.index.Index` and what it stands on. Imports nothing, so a front end
pays only for what it uses."""
