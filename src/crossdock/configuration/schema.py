"""The configuration file, as pydantic models: tenants, their connections and routes.

Every model forbids unknown keys, so a typo is an error rather than a silent default.
A connection's `config` is validated by its kind's model (`connectors.kinds`). Checks
across objects (route ends, unique ids, env: reference names) run once the shapes are
valid and report every problem, each at its own field path.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from crossdock.configuration.availability import AvailabilitySection
from crossdock.configuration.availability import cross_check as check_availability
from crossdock.configuration.catalog import CatalogSection
from crossdock.configuration.catalog import cross_check as check_catalog
from crossdock.configuration.pricing import PricingSection
from crossdock.configuration.pricing import cross_check as check_pricing
from crossdock.configuration.secrets import ENV_NAME, env_reference_name, map_secrets
from crossdock.configuration.settings import check_settings
from crossdock.configuration.tenant_rules import Mappings, RoutingSection, ValidationSection
from crossdock.configuration.tenant_rules import cross_check as check_tenant_rules
from crossdock.connectors.kinds import CONFIG_MODELS

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
Ident = Annotated[str, Field(pattern=ID_PATTERN)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Throttle(Strict):
    """Shared across every worker: `rate` requests per second with bursts of `burst`,
    at most `max_concurrency` calls in flight."""

    rate: float = Field(gt=0)
    burst: int = Field(gt=0)
    max_concurrency: int = Field(gt=0)


class ConnectionBase(Strict):
    id: Ident
    enabled: bool = True
    throttle: Throttle | None = None


def _connection_model(kind: str, config_model: type[BaseModel]) -> type[ConnectionBase]:
    return create_model(
        f"{kind.title().replace('-', '')}Connection",
        __base__=ConnectionBase,
        kind=(Literal[kind], ...),
        config=(config_model, ...),
    )


CONNECTION_MODELS = {kind: _connection_model(kind, model) for kind, model in CONFIG_MODELS.items()}
Connection = Annotated[Union[tuple(CONNECTION_MODELS.values())], Field(discriminator="kind")]  # noqa: UP007


class Route(Strict):
    """Messages from connection `from` whose topic matches one of `topics` go to `to`."""

    source: Ident = Field(alias="from")
    topics: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1)
    target: Ident = Field(alias="to")


class Tenant(Strict):
    id: Ident
    name: str = Field(min_length=1, max_length=200)
    settings: Annotated[dict[str, Any], AfterValidator(check_settings)] = Field(default_factory=dict)
    connections: list[Connection] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    mappings: Mappings | None = None  # see tenant_rules: SKUs, units, taxes, shipping, customers
    routing: RoutingSection | None = None
    validation: ValidationSection | None = None
    availability: AvailabilitySection | None = None  # see configuration.availability
    catalog: CatalogSection | None = None  # see configuration.catalog
    pricing: PricingSection | None = None  # see configuration.pricing


class CrossdockConfig(Strict):
    version: Literal[1]
    tenants: list[Tenant] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cross_check(self) -> CrossdockConfig:
        problems = list(cross_check(self))
        if problems:
            details = [
                InitErrorDetails(type=PydanticCustomError("reference", msg), loc=loc, input=None)
                for loc, msg in problems
            ]
            raise ValidationError.from_exception_data(type(self).__name__, details)
        return self


def cross_check(doc: CrossdockConfig):
    """Yield (field path, message) for every problem that spans several objects."""
    yield from _unique("tenant", [(("tenants", i, "id"), t.id) for i, t in enumerate(doc.tenants)])
    conns = [
        (("tenants", i, "connections", j, "id"), c.id)
        for i, t in enumerate(doc.tenants)
        for j, c in enumerate(t.connections)
    ]
    yield from _unique("connection", conns)
    for i, tenant in enumerate(doc.tenants):
        yield from _check_routes(i, tenant)
        for j, conn in enumerate(tenant.connections):
            yield from _check_env_names(("tenants", i, "connections", j, "config"), conn)
        for loc, msg in check_tenant_rules(tenant.mappings, tenant.routing, tenant.validation):
            yield ("tenants", i, *loc), msg
        if tenant.availability is not None:
            for loc, msg in check_availability(tenant.availability, {c.id for c in tenant.connections}):
                yield ("tenants", i, *loc), msg
        if tenant.catalog is not None:
            for loc, msg in check_catalog(tenant.catalog, {c.id: c.kind for c in tenant.connections}):
                yield ("tenants", i, *loc), msg
        if tenant.pricing is not None:
            for loc, msg in check_pricing(tenant.pricing, {c.id: c.kind for c in tenant.connections}):
                yield ("tenants", i, *loc), msg


def _unique(what: str, items: list[tuple[tuple, str]]):
    seen: set[str] = set()
    for loc, ident in items:
        if ident in seen:
            yield loc, f"duplicate id {ident!r}: {what} ids must be unique in the file"
        seen.add(ident)


def _check_routes(i: int, tenant: Tenant):
    own = {c.id for c in tenant.connections}
    seen: set[tuple[str, str, str]] = set()
    for k, route in enumerate(tenant.routes):
        for field, name in (("from", route.source), ("to", route.target)):
            if name not in own:
                yield (
                    ("tenants", i, "routes", k, field),
                    (f"unknown connection {name!r}: routes join connections of tenant {tenant.id!r}"),
                )
        for n, topic in enumerate(route.topics):
            key = (route.source, topic, route.target)
            if key in seen:
                yield ("tenants", i, "routes", k, "topics", n), f"duplicate route for topic {topic!r}"
            seen.add(key)


def _check_env_names(loc: tuple, conn: ConnectionBase):
    bad: list[str] = []

    def check(value: Any) -> Any:
        name = env_reference_name(value) if isinstance(value, str) else None
        if name is not None and not ENV_NAME.match(name):
            bad.append(name)
        return value

    map_secrets(conn.config.model_dump(), check, conn.kind)
    for name in bad:
        yield loc, f"env:{name} does not name a valid environment variable"


def dump(doc: CrossdockConfig) -> dict[str, Any]:
    """The document as plain JSON-ready data, with the file's key names (`from`, `to`)."""
    return doc.model_dump(mode="json", by_alias=True)
