"""Build a Tryton database ready for sales, for Crossdock's tests against a real ERP.

This file is package data: the harness runs it with the Python of the separate Tryton
virtualenv (``python tryton_setup_db.py --path DIR --name DB --cache DIR --password PW``).
It must never be imported by Crossdock itself. It prints one JSON line describing the
database (products, warehouse, timing) on success.

The whole build (module activation and the business data below) is stored in the
template cache (``DB_CACHE``), so a second build is a file copy.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from decimal import Decimal

MODULES = ["sale", "stock", "account_invoice_stock"]
# Bump when the data below changes: the version is part of the template cache key.
SETUP_VERSION = 1
PRODUCTS = [
    ("SKU-1", "Widget", Decimal("10.00")),
    ("SKU-2", "Gadget", Decimal("25.50")),
    ("SKU-3", "Sprocket", Decimal("4.75")),
    ("SKU-4", "Gizmo", Decimal("99.00")),
    ("SKU-5", "Doohickey", Decimal("1.20")),
]
COUNTRIES = [("US", "United States"), ("CA", "Canada"), ("GB", "United Kingdom"),
             ("DE", "Germany"), ("FR", "France"), ("NL", "Netherlands")]
STOCK_QUANTITY = 1000.0


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--path", required=True, help="directory of the SQLite database files")
    parser.add_argument("--name", required=True, help="database name (file <name>.sqlite)")
    parser.add_argument("--cache", required=True, help="template cache directory (DB_CACHE)")
    parser.add_argument("--password", required=True, help="admin password, 8 characters or more")
    return parser.parse_args(argv)


def sales_data(config=None, version=SETUP_VERSION, password=""):
    """Company, accounting, products with stock, payment term, admin password."""
    from proteus import Model
    from trytond.modules.account.tests.tools import (
        create_chart,
        create_fiscalyear,
        get_accounts,
    )
    from trytond.modules.account_invoice.tests.tools import (
        create_payment_term,
        set_fiscalyear_invoice_sequences,
    )
    from trytond.modules.company.tests.tools import create_company, get_company

    create_company(config=config)
    company = get_company(config=config)
    fiscalyear = set_fiscalyear_invoice_sequences(create_fiscalyear(company, config=config), config=config)
    fiscalyear.click("create_period")
    create_chart(company, config=config)
    accounts = get_accounts(company, config=config)

    Country = Model.get("country.country", config=config)
    for code, name in COUNTRIES:
        Country(code=code, name=name).save()

    Category = Model.get("product.category", config=config)
    category = Category(name="Goods", accounting=True)
    category.account_revenue = accounts["revenue"]
    category.account_expense = accounts["expense"]
    category.save()

    Uom = Model.get("product.uom", config=config)
    (unit,) = Uom.find([("name", "=", "Unit")])
    Template = Model.get("product.template", config=config)
    products = []
    for code, name, price in PRODUCTS:
        template = Template(name=name, code=code, type="goods", default_uom=unit)
        template.salable = True
        template.list_price = price
        template.account_category = category
        template.save()
        products.append(template.products[0])

    Location = Model.get("stock.location", config=config)
    (storage,) = Location.find([("code", "=", "STO")])
    Inventory = Model.get("stock.inventory", config=config)
    inventory = Inventory(location=storage)
    for product in products:
        line = inventory.lines.new(product=product)
        line.quantity = STOCK_QUANTITY
        line.expected_quantity = 0.0
    inventory.click("confirm")

    create_payment_term(config=config).save()

    User = Model.get("res.user", config=config)
    admin = User(config.user)
    admin.password = password
    admin.save()


def _describe(config) -> dict:
    from proteus import Model

    Product = Model.get("product.product", config=config)
    Location = Model.get("stock.location", config=config)
    (warehouse,) = Location.find([("type", "=", "warehouse")])
    return {
        "products": {p.code: p.id for p in Product.find([("code", "!=", None)])},
        "warehouse": warehouse.id,
    }


def main(argv: list[str]) -> int:
    args = _parse_args(argv)
    if len(args.password) < 8:
        print("admin password must have 8 characters or more", file=sys.stderr)
        return 2
    # Tryton reads these at import time; set them before any trytond import.
    os.environ["DB_NAME"] = args.name
    os.environ["TRYTOND_DATABASE__URI"] = "sqlite://"
    os.environ["TRYTOND_DATABASE__PATH"] = args.path
    os.environ["DB_CACHE"] = args.cache
    os.makedirs(args.path, exist_ok=True)
    db_file = os.path.join(args.path, f"{args.name}.sqlite")
    if os.path.exists(db_file):
        os.remove(db_file)

    started = time.monotonic()
    from trytond.tests.tools import activate_modules

    # The password is a cache-key parameter too, so a different password builds anew.
    setup = functools.partial(sales_data, version=SETUP_VERSION, password=args.password)
    config = activate_modules(MODULES, setup)
    info = _describe(config)
    info.update(database=args.name, path=args.path, seconds=round(time.monotonic() - started, 2))
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
