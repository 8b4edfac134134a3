"""Connector for an ERP speaking Crossdock's generic REST contract (docs/connectors/generic-rest-erp.md)."""
