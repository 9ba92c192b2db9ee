pytest_plugins = ["mallkit.testing"]
