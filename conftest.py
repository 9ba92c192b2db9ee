# Import the real `gateway` package before pytest (import-mode=importlib) registers the folder
# gateway/ as a namespace package of the same name while collecting gateway/tests.
import gateway  # noqa: F401

pytest_plugins = ["mallkit.testing"]
