"""retail use cases, one module per context."""
