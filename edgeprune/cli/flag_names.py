"""The library names a parameter in its error messages as ``name=value``; the command line shows it as its flag."""

from __future__ import annotations

import argparse
import re

_PARAMETER = re.compile(r"\b([a-z][a-z0-9_]*)=(?=[^\s=])")
_SWITCH = re.compile(r"\b([a-z][a-z0-9_]*)=True\b")


def with_flag_names(message: str, parser: argparse.ArgumentParser) -> str:
    """``message`` with every ``name=value`` whose ``name`` is an option of ``parser`` written as ``--flag value``
    (the option's longest spelling), and ``name=True`` of a flag that takes no value as ``--flag``; other ``a=b``
    text (category maps, config keys) is left alone."""
    actions = [action for action in parser._actions if action.option_strings]
    flags = {action.dest: max(action.option_strings, key=len) for action in actions}
    switches = {action.dest for action in actions if action.nargs == 0}

    def switch(match: re.Match) -> str:
        return flags[match.group(1)] if match.group(1) in switches else match.group(0)

    def flag(match: re.Match) -> str:
        name = match.group(1)
        return f"{flags[name]} " if name in flags else match.group(0)

    return _PARAMETER.sub(flag, _SWITCH.sub(switch, message))
