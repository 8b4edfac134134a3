"""Connector for a WMS speaking Crossdock's generic REST contract (docs/connectors/generic-rest-wms.md)."""
