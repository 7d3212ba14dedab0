"""The CLI's shared argparse helpers: commands declared in one call, one KEY=VALUE parser."""

from __future__ import annotations

import argparse

import pytest

from rayline.cli.arguments import add_group, arg, command, parse_pairs
from rayline.errors import ParameterError, UserInputError


def test_parse_pairs_splits_at_the_first_separator():
    assert parse_pairs(["a=1", " b =x=y", "c="], option="--tag") == [
        ("a", "1"),
        ("b", "x=y"),
        ("c", ""),
    ]
    assert parse_pairs(["price:Fractional"], option="--feature", sep=":", form="NAME:TYPE") == [
        ("price", "Fractional")
    ]


@pytest.mark.parametrize("spec", ["novalue", "=1", " =1"])
def test_parse_pairs_names_the_option_and_form(spec):
    with pytest.raises(ParameterError, match=r"-p '.*': write KEY=VALUE$"):
        parse_pairs([spec], option="-p", error=ParameterError)
    with pytest.raises(UserInputError, match=r"write NAME:TYPE, e\.g\. price:Fractional"):
        parse_pairs(
            [spec.replace("=", ":")],
            option="--feature",
            sep=":",
            form="NAME:TYPE",
            example="price:Fractional",
        )


def test_command_adds_arguments_in_order_then_json():
    def handler(args):
        return 0

    parser = argparse.ArgumentParser(prog="rayline")
    cmds = add_group(parser.add_subparsers(dest="group"), "thing", "Things.")
    p = command(
        cmds,
        "show",
        handler,
        "Show a thing.",
        arg("name"),
        arg("--limit", type=int, default=5),
        json="print the result as JSON",
        defaults={"mode": "x"},
    )
    assert [a.dest for a in p._actions] == ["help", "name", "limit", "json"]
    args = parser.parse_args(["thing", "show", "n", "--json"])
    assert (args.name, args.limit, args.json, args.mode, args.handler) == (
        "n",
        5,
        True,
        "x",
        handler,
    )
    assert "print the result as JSON" in p.format_help()
