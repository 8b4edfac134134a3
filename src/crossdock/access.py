"""Who may do what: the four roles and the tenants a principal may see.

Partner roles act across the tenants they are given (or all: `*`); tenant roles act
within their own tenants only. Used by the REST API (API keys), the web console
(users) and anything else that acts for a person."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    PARTNER_ADMIN = "partner_admin"  # everything, every tenant: configuration, keys, users
    PARTNER_OPERATOR = "partner_operator"  # the partner's support desk: act on exceptions and messages
    TENANT_ADMIN = "tenant_admin"  # a distributor's admin: act on their own tenant's work and mappings
    TENANT_VIEWER = "tenant_viewer"  # a distributor's staff: look, never act


class Action(StrEnum):
    READ = "read"  # see orders, messages, exceptions, availability, metrics
    OPERATE = "operate"  # retry, resubmit, resolve exceptions; replay messages
    MANAGE_MAPPINGS = "manage_mappings"  # edit SKU maps, rules, effective-dated prices
    APPROVE_PRICES = "approve_prices"  # approve or reject price changes over a channel's threshold
    MANAGE_TENANTS = "manage_tenants"  # tenants, connections, API keys, users


PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.PARTNER_ADMIN: frozenset(Action),
    Role.PARTNER_OPERATOR: frozenset({Action.READ, Action.OPERATE, Action.APPROVE_PRICES}),
    Role.TENANT_ADMIN: frozenset({Action.READ, Action.OPERATE, Action.MANAGE_MAPPINGS, Action.APPROVE_PRICES}),
    Role.TENANT_VIEWER: frozenset({Action.READ}),
}

ALL_TENANTS = "*"


@dataclass(frozen=True)
class Principal:
    """Someone acting: an API key or a console user."""

    name: str  # recorded as the actor in the audit log
    role: Role
    tenants: frozenset[str]  # tenant ids, or {"*"} (partner roles only)

    def sees(self, tenant_id: str) -> bool:
        return tenant_id in self.tenants or (ALL_TENANTS in self.tenants and self.is_partner)

    def may(self, action: Action) -> bool:
        return action in PERMISSIONS[self.role]

    @property
    def is_partner(self) -> bool:
        return self.role in (Role.PARTNER_ADMIN, Role.PARTNER_OPERATOR)

    def visible(self, tenant_ids: list[str]) -> list[str]:
        return [t for t in tenant_ids if self.sees(t)]
