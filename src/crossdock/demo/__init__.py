"""`crossdock demo`: the hub, the sandbox systems and a traffic generator on one machine.

`runner.run(DemoOptions)` starts `crossdock sandbox` and `crossdock serve` as child
processes on a fresh SQLite database under `var/demo/`, applies the tenant configuration
built by `config.py`, drives orders and faults through the sandbox's control endpoints,
shows `view.py`'s live dashboard and ends with `summary.py`'s report, counted from the
sandbox's own state (`GET /_sandbox/state`)."""
