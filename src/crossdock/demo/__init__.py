"""`crossdock demo`: the hub, the sandbox systems and a traffic generator on one machine.

`runner.run(DemoOptions)` starts `crossdock sandbox` and `crossdock serve` as child
processes on a fresh SQLite database under `var/demo/`, applies the tenants' configuration
built by `config.py` (one set of sandbox systems per tenant), drives orders, stock changes,
price changes and faults through the sandbox's control endpoints, shows `view.py`'s live
dashboard and ends with `summary.py`'s report per tenant and in total, counted from the
sandbox's own state (`GET /_sandbox/state` of each tenant)."""
