import sys
def test_probe():
    print(__name__, [m for m in sys.modules if m.startswith("gateway")])
    import gateway
    print(gateway.__file__, getattr(gateway, "__path__", None))
