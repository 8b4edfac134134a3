"""Crossdock: the integration hub that keeps distributors' orders, stock, prices,
catalog, shipments and returns in step across channels, ERPs, warehouses and EDI."""

__version__ = "0.1.0"
