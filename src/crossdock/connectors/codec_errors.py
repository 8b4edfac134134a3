"""Reading vendor payloads safely: every failure names the field path that broke.

Codecs wrap a payload in `Field` and read through it; a missing or mistyped value
raises `CodecError` (a permanent validation error), never KeyError or TypeError.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from crossdock.domain.errors import DomainError
from crossdock.domain.money import Money
from crossdock.errors import PermanentError

T = TypeVar("T")


class CodecError(PermanentError):
    """A vendor payload does not have the shape its documentation promises."""

    def __init__(self, field: str, detail: str, *, system: str = "") -> None:
        where = f"{system} payload" if system else "payload"
        super().__init__(
            "validation.vendor_payload",
            f"{where} field {field or '<root>'}: {detail}",
            "Check the payload against the vendor's documented schema; edit and resubmit if it was mangled.",
            context={"field": field, "system": system},
        )
        self.field = field


@dataclass(frozen=True, slots=True)
class Field:
    """A value inside a vendor payload, together with its path (``line_items[2].sku``)."""

    value: Any
    path: str = ""
    system: str = ""

    def fail(self, detail: str) -> CodecError:
        return CodecError(self.path, detail, system=self.system)

    def __getitem__(self, key: str) -> Field:
        path = f"{self.path}.{key}" if self.path else key
        if self.value is None:
            return Field(None, path, self.system)
        if not isinstance(self.value, dict):
            raise self.fail(f"expected an object, got {type(self.value).__name__}")
        return Field(self.value.get(key), path, self.system)

    @property
    def present(self) -> bool:
        return self.value is not None

    def items(self) -> list[Field]:
        """Elements of a list; a missing list reads as empty."""
        if self.value is None:
            return []
        if not isinstance(self.value, list):
            raise self.fail(f"expected a list, got {type(self.value).__name__}")
        return [Field(v, f"{self.path}[{i}]", self.system) for i, v in enumerate(self.value)]

    def required(self) -> Field:
        if self.value is None:
            raise self.fail("is required")
        return self

    def opt_text(self) -> str | None:
        """A string, with blank read as None."""
        if self.value is None:
            return None
        if not isinstance(self.value, str):
            raise self.fail(f"expected a string, got {type(self.value).__name__}")
        return self.value.strip() or None

    def text(self) -> str:
        result = self.required().opt_text()
        if result is None:
            raise self.fail("must not be blank")
        return result

    def opt_ident(self) -> str | None:
        """An identifier sent as a string or an integer, as a string."""
        if isinstance(self.value, int) and not isinstance(self.value, bool):
            return str(self.value)
        return self.opt_text()

    def ident(self) -> str:
        result = self.required().opt_ident()
        if result is None:
            raise self.fail("must not be blank")
        return result

    def opt_decimal(self) -> Decimal | None:
        """A number sent as text or JSON number; floats are read through their text form."""
        if self.value is None:
            return None
        if isinstance(self.value, bool) or not isinstance(self.value, str | int | float):
            raise self.fail(f"expected a number, got {type(self.value).__name__}")
        try:
            result = Decimal(str(self.value).strip())
        except InvalidOperation:
            raise self.fail(f"is not a number: {self.value!r}") from None
        if not result.is_finite():
            raise self.fail(f"is not a finite number: {self.value!r}")
        return result

    def decimal(self) -> Decimal:
        result = self.required().opt_decimal()
        assert result is not None
        return result

    def count(self) -> Decimal:
        """A whole, non-negative quantity."""
        result = self.decimal()
        if result < 0 or result != result.to_integral_value():
            raise self.fail(f"must be a whole non-negative number, got {self.value!r}")
        return result

    def flag(self, default: bool = False) -> bool:
        """A boolean; Amazon also sends "true"/"false" as strings."""
        if self.value is None:
            return default
        if isinstance(self.value, bool):
            return self.value
        if isinstance(self.value, str) and self.value.lower() in ("true", "false"):
            return self.value.lower() == "true"
        raise self.fail(f"expected a boolean, got {self.value!r}")

    def opt_timestamp(self) -> datetime | None:
        """An ISO 8601 date-time with an offset (``Z`` allowed)."""
        text = self.opt_text()
        if text is None:
            return None
        try:
            result = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise self.fail(f"is not an ISO 8601 date-time: {text!r}") from None
        if result.tzinfo is None:
            raise self.fail(f"has no UTC offset: {text!r}")
        return result

    def timestamp(self) -> datetime:
        result = self.required().opt_timestamp()
        assert result is not None
        return result


def money(amount: Field, currency: str | Field) -> Money:
    """Money from an amount field and a currency (a code or a field holding one)."""
    code = currency.text() if isinstance(currency, Field) else currency
    where = currency if isinstance(currency, Field) else amount
    return build(where, Money, amount.decimal(), code)


def build(at: Field, factory: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a domain constructor, turning a broken domain rule into a `CodecError` at `at`."""
    try:
        return factory(*args, **kwargs)
    except DomainError as error:
        raise at.fail(error.detail) from error
