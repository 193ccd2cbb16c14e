"""GPIO across the fleet: read, drive and watch pins on Raspberry Pis and other small devices.

The device side lives in wacket/remote/ops/gpio.py (run by the remote helper); this package is the
client: pin specs and config (pins), the shared output parsers (parsers), one-shot calls (client),
the holder that keeps outputs set (holder) and streaming edges with reconnects (watch).
"""
