"""`crossdock orders show`: a step's summary cut for the table says it was cut."""

from __future__ import annotations

from rich.console import Console

from crossdock.cli.orders import _timeline_table


def _printed(summary: str) -> str:
    console = Console(width=240, record=True)
    console.print(_timeline_table([{"at": 0, "type": "message", "kind": "order.validate", "summary": summary}]))
    return console.export_text()


def test_a_long_summary_is_cut_with_an_ellipsis_and_the_table_says_where_it_is_whole():
    long = "address incomplete: " + "x" * 150
    printed = _printed(long)
    assert long[:99] + "…" in printed and long not in printed
    assert "--json gives them whole" in printed
    assert "--json" not in _printed("short")
